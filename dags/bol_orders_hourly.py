"""
### bol.com orders, hourly (Apache Airflow DAG)

Every hour, for each account (the `bol_retailer` connection ids in Variable `bolsync_accounts`, a JSON
list; default `["bol_retailer_default"]`; or `{"accounts": [...]}` in the run conf), syncs every order
item whose latest change falls in the run's [start, end) hour into `bol.orders` / `bol.order_items`.

Full orders (prices, commission, offer, product) are fetched only for orders new to the warehouse; status
changes of known orders come from the order list. Each task try writes a `bol.sync_runs` row.

Cost: an hour is over before its run starts, and bol's `change-interval-minute` reaches back at most 60
minutes, so every run lists the whole Dutch day so far by `latest-change-date` and re-reads it once (the
settle pass): about two list calls per 50 orders changed that day, growing through the day. For a shop with
~10,000 changed orders a day that is 338 list calls for the run at 20:00, 13.5 minutes of bol's 25 list
calls a minute, every hour (`make bench`, docs/bench/frequent_sync.json). Busy shops run `bol_orders_15min`
instead (2 to about 11 list calls a run), not both.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.orders.dag import orders_dag

dag = orders_dag(
    dag_id="bol_orders_hourly",
    cron="0 * * * *",
    timezone="UTC",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["hourly"],
)
