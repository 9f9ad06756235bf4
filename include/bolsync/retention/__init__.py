"""Retention on its own schedule: the daily ``bol_retention`` DAG purges the personal store and the raw archive
whatever the loads do, records every purge in ``bol.retention_purges``, and the checks that start every sync
run (and the nightly coverage check) alert when a purge is overdue."""
