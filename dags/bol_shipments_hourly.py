"""
### bol.com shipments, hourly (Apache Airflow DAG)

Every hour, for each account (Variable `bolsync_accounts` or run conf `{"accounts": [...]}`), scans bol's shipments,
FBR and FBB, into `bol.shipments` and `bol.shipment_items`.

bol's shipment lists have no date filter: each is the last 3 months, newest first, 50 a page, without transporter,
track and trace or quantities. A run reads, per fulfilment method, pages from the first **down to the last complete
scan's start minus 60 minutes** (`[bolsync] shipments_listing_margin_minutes`; after an outage: across the whole
gap), then the **detail of every shipment new to the warehouse, once** (transporter, track and trace, quantities,
prices, transport events; the customer's shipment and billing details for opted-in accounts). A detail already held
is never read again for the list's sake. `bolsync.shipments.extract` states the stop rule and why it misses nothing.

Transport events: kept, as a JSON array in `bol.shipments.transport_events` with the latest event in its own
columns, as of the detail read. The hourly run does not re-read them; the daily run does, once a day, for shipments
shipped in the last 14 days (`[bolsync] shipments_event_refresh_days`) whose journey has not ended.

Hourly because shipments are the seller's proof of delivery and the input of label and transport costs: a new
shipment should be in the warehouse within the hour, and a quiet hour costs two list calls (one page per method) of
bol's 25 a minute. What one hourly run covers in `bol.sync_coverage`: a complete scan started after the window's
end read every shipment of the window bol listed by then; one listed up to the margin late is read by the next run.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.shipments.dag import shipments_dag

dag = shipments_dag(
    dag_id="bol_shipments_hourly",
    cron="0 * * * *",
    timezone="UTC",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
    tags=["hourly"],
    refresh_events=False,
)
