"""
### bol.com returns, hourly (Apache Airflow DAG)

Every hour, for each account (Variable `bolsync_accounts` or run conf `{"accounts": [...]}`), scans bol's returns,
FBR and FBB, into `bol.returns`, `bol.return_item_states` (view `bol.return_items`, with the order item each return
item names) and `bol.return_processing_results`.

bol's return lists have no change-date filter: a run reads, per fulfilment method, the **unhandled list completely**
(open returns, oldest first: a few pages), the **handled list (newest first) down to the last complete scan's start
minus 3 hours** (`[bolsync] returns_registration_margin_minutes`), and by id only what the lists cannot tell: a
return that left the unhandled list and was not on a handled page read (several on one handled page: that page),
and the detail (title, transporter, track and trace; the customer's details for opted-in accounts) of a return new
since the last scan, once. `bolsync.returns.extract` states the stop rule and why it misses no state change.

Cost: a page per 50 open returns, one handled page per fulfilment method, a page or two near the end of a long
unhandled list read again (page shifts), and a detail per new return. Measured on the emulator, a shop with ~1,400
returns listed (~580 open): 18 list calls and no detail in a quiet hour; 21 list calls and 10 details after 10 new
returns and 10 old ones handled; a naive full re-read of the same data: 31 list calls and 1,403 details.

Hourly because open returns are the seller's work list: a new return or a handling should be in the warehouse
within the hour, and a run costs a few calls of bol's 20 a minute per returns endpoint. What one hourly run covers in
`bol.sync_coverage`: a complete scan started after the window's end saw every return registered or handled up to
then. One kind of change only the daily run sees for sure: a handling result changed later on a return handled
before the previous scan (it stays at its registration's place deep in the handled list). A run whose unhandled list
kept moving while it was paged lands what it read but is not recorded as covered.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.returns.dag import returns_dag

dag = returns_dag(
    dag_id="bol_returns_hourly",
    cron="0 * * * *",
    timezone="UTC",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["hourly"],
    full_scan=False,
)
