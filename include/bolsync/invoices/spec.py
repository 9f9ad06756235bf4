"""The invoices stream: the invoices bol issued in the run's billing days and every line of their specification."""

from __future__ import annotations

from datetime import timedelta

from bolsync.streams.spec import Endpoint, Replication, StreamSpec
from bolsync.warehouse.base import Table

STREAM = "invoices"
DAG_ID = "bol_invoices"

#: ``read_at`` orders two reads of one invoice: a later read never loses to an earlier one.
INVOICES = Table("bol.invoices", ("retailer_id", "invoice_id"), version="read_at")
INVOICE_LINES = Table("bol.invoice_lines", ("retailer_id", "invoice_id", "line_key"))

LIST_ENDPOINT = "GET /retailer/invoices"
#: One bol rule covers an invoice and its specification: one label, one bucket.
DOCUMENT_ENDPOINT = "GET /retailer/invoices/{id}"
#: Lines per specification page (bol's maximum).
SPECIFICATION_PAGE_SIZE = 25_000

SPEC = StreamSpec(
    name=STREAM,
    title="invoices and their specification lines",
    replication=Replication.BILLING_PERIOD,
    tables=(INVOICES, INVOICE_LINES),
    endpoints=(Endpoint(LIST_ENDPOINT), Endpoint(DOCUMENT_ENDPOINT, page_size=SPECIFICATION_PAGE_SIZE)),
    history=None,
    backfill_dag=DAG_ID,
    dags=(DAG_ID,),
    covered=(
        "the invoices issued on the window's days were listed, and every one of them was read and reconciled "
        "with its specification (or recorded as having no JSON specification, or held in the quarantine)"
    ),
    coverage_lag=timedelta(days=6),
    module="bolsync.invoices.stream",
)
