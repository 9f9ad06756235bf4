"""
### bol.com shipments, daily transport events and backfill (Apache Airflow DAG)

One run per Dutch calendar day (00:00-24:00 Europe/Amsterdam), for each account (Variable `bolsync_accounts` or run
conf `{"accounts": [...]}`). It does two things:

- **Transport events** (run parameter `refresh_events`, on by default here): re-reads the detail of every shipment
  shipped in the last 14 days (`[bolsync] shipments_event_refresh_days`) whose journey has not ended (no delivery,
  pick-up or return to sender yet, and a track and trace to follow), at most once per 20 hours. Daily because events
  move a few times per parcel over days, and a detail call each hour per parcel under way would cost far more of
  bol's 50 a minute than the answers are worth.
- **The day's shipments**: when the hourly runs' scans have read the day already (the usual case) it reads no list;
  otherwise it reads both lists from the newest down to the day's start.

What it covers in `bol.sync_coverage`: the day, once a complete scan started after its end read every shipment of
it bol listed by then. bol lists shipments of the last 3 months only: a day older than that cannot be read (the
run fails with a clear error naming the oldest day bol still serves).

**Backfill from the UI**: Trigger -> Backfill, any date range within the last 3 months. Airflow runs a backfill's
days oldest first: the first run reads both lists down to its day in **one pass**, and records the span it read;
every later day of the backfill lies in that span and reads nothing. To have a run in another order read down to a
given day, set its `oldest_day` parameter. Reruns and concurrent runs are idempotent: rows are upserted on their
keys and an older read never overwrites a newer one.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.shipments.dag import shipments_dag

dag = shipments_dag(
    dag_id="bol_shipments_daily",
    cron="0 0 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["daily", "backfill"],
    refresh_events=True,
)
