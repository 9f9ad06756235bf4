"""
### bol.com returns, daily reconciliation and backfill (Apache Airflow DAG)

One run per Dutch calendar day (00:00-24:00 Europe/Amsterdam), for each account (Variable `bolsync_accounts` or run
conf `{"accounts": [...]}`): the hourly scan with the **handled lists read to their end** (run parameter `full_scan`,
on by default here). It sees what the hourly runs cannot see for sure: a handling result changed on a return handled
long before. Its cost grows with the returns bol keeps listed: a page per 50 handled returns and fulfilment method.

What it covers in `bol.sync_coverage`: the day, once a complete full scan started after the day's end has seen every
return's state as of then. bol's lists are snapshots, so a past day cannot be read as it was; what fills a hole is a
scan now, which holds the latest state of every return of that day. bol documents no limit on how far back its
return lists go (the emulator keeps its whole history).

**Backfill from the UI**: Trigger -> Backfill, any date range. The first run scans everything; every later run of the
backfill finds that its day was observed by that scan and reads nothing. Reruns and concurrent runs are idempotent:
rows are upserted on their keys and an older read never overwrites a newer state.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.returns.dag import returns_dag

dag = returns_dag(
    dag_id="bol_returns_daily",
    cron="0 0 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["daily", "backfill"],
    full_scan=True,
)
