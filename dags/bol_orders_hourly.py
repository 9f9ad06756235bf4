"""
### bol.com orders, hourly (Apache Airflow DAG)

Every hour, for each account (the `bol_retailer` connection ids in Variable `bolsync_accounts`, a JSON
list; default `["bol_retailer_default"]`; or `{"accounts": [...]}` in the run conf), syncs every order
item whose latest change falls in the run's [start, end) hour into `bol.orders` / `bol.order_items`.

Full orders (prices, commission, offer, product) are fetched only for orders new to the warehouse; status
changes of known orders come from the order list. A late run loses nothing (it queries bol's
`latest-change-date` for the Dutch dates its hour touches). Each task try writes a `bol.sync_runs` row.
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
