"""The shipments stream: two list scans (FBR and FBB, newest first) and the detail of every new shipment."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta

from bolsync.streams.spec import Endpoint, Replication, StreamSpec
from bolsync.warehouse.base import Table

STREAM = "shipments"

LIST_ENDPOINT = "GET /retailer/shipments"
DETAIL_ENDPOINT = "GET /retailer/shipments/{id}"
LIST_PATH = "/retailer/shipments"
LIST_FIELD = "shipments"
PAGE_SIZE = 50
FULFILMENT_METHODS = ("FBR", "FBB")
HISTORY = relativedelta(months=3)

SHIPMENTS = Table("bol.shipments", ("retailer_id", "shipment_id"), version="observed_at")
SHIPMENT_ITEMS = Table("bol.shipment_items", ("retailer_id", "shipment_id", "order_item_id"), version="detail_read_at")
#: Per retailer and fulfilment method: the span of shipment times complete scans have read (the stop bound).
SHIPMENT_SCANS = "bol.shipment_scans"

#: DAG parameter: re-read the detail of recent shipments whose journey has not ended (their transport events).
REFRESH_EVENTS_PARAM = "refresh_events"
#: DAG parameter: the oldest Dutch day a run reads down to (a backfill's first day), besides its own window.
OLDEST_DAY_PARAM = "oldest_day"

SPEC = StreamSpec(
    name=STREAM,
    title="shipments, their items and transport",
    replication=Replication.LIST_SCAN,
    tables=(SHIPMENTS, SHIPMENT_ITEMS),
    endpoints=(Endpoint(LIST_ENDPOINT, page_size=PAGE_SIZE), Endpoint(DETAIL_ENDPOINT)),
    history=HISTORY,
    backfill_dag="bol_shipments_daily",
    dags=("bol_shipments_hourly", "bol_shipments_daily"),
    personal_fields=("shipmentDetails", "billingDetails"),
    covered=(
        "a complete scan of both fulfilment methods' lists, started after the window's end, read every shipment "
        "shipped in the window that bol listed by then (a shipment listed up to the listing margin late is read "
        "by the next scan, which reads down to this one's start minus the margin)"
    ),
    module="bolsync.shipments.stream",
)
