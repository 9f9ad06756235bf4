"""
### bol.com FBB inventory, nightly (Apache Airflow DAG)

Every night at 01:00 Europe/Amsterdam, for each account (Variable `bolsync_accounts` or run conf
`{"accounts": [...]}`), reads bol's whole FBB stock list (`GET /retailer/inventory` with no filter, so
every EAN at every stock level, REGULAR and GRADED) into `bol.inventory` (stock per EAN: bsku, title,
regular and graded stock, the first and last day bol listed it, whether it still does) and writes that
day's snapshot to `bol.inventory_snapshots` (one row per EAN).

**What a snapshot's date means**: the Dutch calendar day the list was read on. The nightly run takes the
stock as it stands at about 01:00 of that day (sales and inbound goods of the rest of the day show in the
next day's snapshot); a manual run or a late retry takes the stock of the day it runs on. A day is
*covered* (`bol.sync_coverage`, and the audit rows of the load) when a complete list was read on it and
its snapshot written.

**bol keeps no stock history**: a day no run captured is lost, and the nightly coverage check reports it
as LOST. A backfill or a rerun of a run whose window ended more than a day ago can only read today's
stock, so it changes nothing, says so in its audit row and covers nothing; rerunning today's run is
idempotent (the day's rows take the newer reading; unchanged rows are not rewritten).

**Why 01:00**: the earliest quiet hour of the day leaves the rest of that day for Airflow's retries or a
manual rerun to still capture it (a day not captured is lost), runs after the midnight orders and offers
runs instead of beside them, and lies clear of the day boundary, so a worker clock a little off cannot
date a snapshot to the wrong day. Once a day matches bol: it keeps no history to catch up on, and stock per day
is what analysts join to sales. Cost: one call per 50 EANs and the empty page that ends the list (a
catalogue of 1,000 EANs: 21 calls, about a minute of bol's 20 a minute), plus one lookup per EAN the list
no longer names (at most 20; they catch an EAN skipped when the pages shift while they are read).

**Mass deletions need confirmation**: a list that names none of the live EANs, or would mark more than
10 % and more than 20 of them no longer listed (`[bolsync] mass_deletion_percent` and
`mass_deletion_count`), marks none: the listed EANs still land, the day's snapshot keeps every live EAN
(the unlisted ones at their last known stock, `carried_over`), the hold is alerted and recorded in
`bol.deletion_holds`, and the day is not covered. A run with param `confirm_deletions: true` (older name
`confirm_empty`) applies them. A record bol sends that the warehouse cannot hold (no EAN, a stock beyond
INTEGER) is held in `bol.quarantine` and alerted; the rest lands.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.inventory.dag import inventory_dag

dag = inventory_dag(
    dag_id="bol_inventory_daily",
    cron="0 1 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
)
