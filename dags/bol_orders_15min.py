"""
### bol.com orders, every 15 minutes (Apache Airflow DAG)

Every 15 minutes, for each account (the `bol_retailer` connection ids in Variable `bolsync_accounts`, a JSON
list; default `["bol_retailer_default"]`; or `{"accounts": [...]}` in the run conf), syncs every order item
whose latest change falls in the run's [start, end) quarter hour into `bol.orders` / `bol.order_items`.

Cost: a run on time asks bol only for the changes of the last ~20 minutes (`change-interval-minute`, the way
bol advises polling every 5-15 minutes), whatever the size of the day so far: a page per 50 orders changed
in those minutes, a re-read of all but the last page and the empty page that ends the list (2 calls when
quiet; 11 for 750 item changes an hour, against 338 for an hourly run at 20:00 of a day of ~10,000 changed
orders: `make bench`, docs/bench/frequent_sync.json). A run more than about 40 minutes late (bol's change
interval reaches back at most 60 minutes) lists the Dutch dates its window touches instead, so nothing is
missed, at the hourly DAG's cost. Run this DAG or `bol_orders_hourly`, not both: both are idempotent, but
together they spend list calls twice. Full orders are fetched only for orders new to the warehouse. Each
task try writes a `bol.sync_runs` row.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.orders.dag import orders_dag

dag = orders_dag(
    dag_id="bol_orders_15min",
    cron="*/15 * * * *",
    timezone="UTC",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["15min"],
)
