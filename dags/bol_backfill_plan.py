"""
### Plan a backfill of bol_orders_daily (manual Apache Airflow DAG)

Before spending hours of the request budget: Trigger with params `account` (a `bol_retailer` connection id),
`from` and `to` (Dutch days, YYYY-MM-DD) and `mode` (`probe`: a few order-list calls per day; `history`: no
API call). The task log shows the per-day table, the API calls (list pages incl. settle re-reads, order
details for orders not yet in the warehouse), the wall time at the budget and whether the range is inside
bol's 3 months; the run note shows the totals. The same as `python -m bolsync.planner`.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.planner.dag import backfill_plan_dag

dag = backfill_plan_dag(dag_id="bol_backfill_plan", start_date=datetime(2026, 1, 1), doc_md=__doc__)
