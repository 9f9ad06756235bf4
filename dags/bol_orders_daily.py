"""
### bol.com orders, daily reconciliation and backfill (Apache Airflow DAG)

One run per Dutch calendar day (00:00-24:00 Europe/Amsterdam, bol's own date unit): syncs every order
item whose latest change falls on that day, for each account (Variable `bolsync_accounts` or run conf
`{"accounts": [...]}`). Catches anything an hourly or 15-minute run could not see.

**Backfill history from the UI**: Trigger -> Backfill, pick a date range (bol serves at most 3 months of
order history; an older day fails at once with a message naming the oldest date allowed), and run.
Reruns and overlapping backfills are idempotent: rows are upserted on their natural keys and an older
state never overwrites a newer one.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.orders.dag import orders_dag

dag = orders_dag(
    dag_id="bol_orders_daily",
    cron="0 0 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["daily", "backfill"],
)
