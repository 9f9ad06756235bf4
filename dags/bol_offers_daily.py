"""
### bol.com offers, nightly (Apache Airflow DAG)

Once per night (00:00 Europe/Amsterdam) stores each account's current offers in `bol.offers` and the
day's price and stock in `bol.offer_snapshots` (accounts: Variable `bolsync_accounts` or run conf
`{"accounts": [...]}`).

**Sources** (param `source` or Variable `bolsync_offers_source`):
`export` (default) asks bol for the v10 CSV export and waits for it *deferred* (no worker slot held while
bol prepares the file); `v11` reads the v11 offer list, incrementally by last modification, with a full
sweep at least weekly (param `full_sweep` forces one) that flags offers bol no longer lists as deleted.

**Mass deletions need confirmation**: a full list (export or full sweep) that names none of the live offers,
or would flag more than 10 % and more than 20 of them deleted (`[bolsync] mass_deletion_percent` and
`mass_deletion_count`), flags none: the listed offers still land, the day's snapshot keeps every live offer,
the hold is alerted and recorded in `bol.deletion_holds`. A run with param `confirm_deletions: true` (older
name `confirm_empty`) applies them. Loads honour bol's version: an older list never overwrites newer data.

bol keeps no offer history: a backfill or a rerun of a day that ended more than a day ago logs that and
changes nothing. Rerunning the current day is idempotent.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.offers.dag import offers_dag

dag = offers_dag(
    dag_id="bol_offers_daily",
    cron="0 0 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
)
