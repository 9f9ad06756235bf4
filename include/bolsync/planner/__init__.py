"""Backfill planning: what a backfill of ``bol_orders_daily`` will cost in API calls and time, before it runs.

``python -m bolsync.planner --account <conn_id> --from <date> --to <date>`` or the manual DAG
``bol_backfill_plan``; see ``plan.make_plan``.
"""
