"""
### bol.com sync coverage check, daily (Apache Airflow DAG)

Every morning (06:00 Europe/Amsterdam) looks for holes in what the loads of each account synced
(`bol.sync_coverage`, orders and offers), from the account's first synced window (or Variable
`bolsync_coverage_history_start`) over at most Variable `bolsync_coverage_lookback_days` (100) days: a failed
run nobody re-ran, a paused week. Each new hole is alerted once, with the exact backfill that fills it and the
planner's estimate; orders older than bol's 3 months and every offers hole are reported as lost.

It also alerts when a retention purge (DAG `bol_retention`) has not succeeded for two days.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.runs.coverage_dag import coverage_dag

dag = coverage_dag(
    dag_id="bol_coverage_check",
    cron="0 6 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
)
