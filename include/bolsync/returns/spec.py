"""The returns stream: four list scans (FBR and FBB, handled and unhandled) and the details they call for."""

from __future__ import annotations

from bolsync.streams.spec import Endpoint, Replication, StreamSpec
from bolsync.warehouse.base import Table

STREAM = "returns"

LIST_ENDPOINT = "GET /retailer/returns"
DETAIL_ENDPOINT = "GET /retailer/returns/{id}"
PAGE_SIZE = 50
FULFILMENT_METHODS = ("FBR", "FBB")

RETURNS = Table("bol.returns", ("retailer_id", "return_id"), version="observed_at")
#: One row per rmaId at its latest state; the view ``bol.return_items`` adds the order item it names.
RETURN_ITEM_STATES = Table("bol.return_item_states", ("retailer_id", "rma_id"), version="observed_at")
RETURN_PROCESSING_RESULTS = Table("bol.return_processing_results", ("retailer_id", "rma_id", "result_number"))
#: The view over ``RETURN_ITEM_STATES`` with the order item match (not merged into: no Table of its own).
RETURN_ITEMS_VIEW = "bol.return_items"
#: Per retailer and fulfilment method: when its last complete scans started (the handled scan's stop bound).
RETURN_SCANS = "bol.return_scans"

#: DAG parameter: read the handled lists to their end (the daily reconciliation, a backfill, a first run).
FULL_SCAN_PARAM = "full_scan"

SPEC = StreamSpec(
    name=STREAM,
    title="returns, their items and processing results",
    replication=Replication.LIST_SCAN,
    tables=(RETURNS, RETURN_ITEM_STATES, RETURN_PROCESSING_RESULTS),
    endpoints=(Endpoint(LIST_ENDPOINT, page_size=PAGE_SIZE), Endpoint(DETAIL_ENDPOINT)),
    history=None,
    backfill_dag="bol_returns_daily",
    dags=("bol_returns_hourly", "bol_returns_daily"),
    personal_fields=("customerDetails", "returnReason.customerComments"),
    covered=(
        "a complete scan started after the window's end saw every return's state as of then (hourly: every return "
        "registered or handled since the previous scan; daily: also every change to a return handled earlier)"
    ),
    module="bolsync.returns.stream",
)
