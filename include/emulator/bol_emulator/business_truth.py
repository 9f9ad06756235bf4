"""Ground truth of the business streams, one list of rows per warehouse table as a test compares it.

``GET /_emulator/accounts/{client_id}/{table}`` with ``table`` one of :data:`TABLES`; rows are snake_case with
UTC timestamps, oldest first (inventory by EAN, invoice lines in specification order). Time-driven state
(today's stock, invoices of ended periods) is brought up to now first, exactly as the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bol_emulator import invoice_payloads, return_payloads, shipment_payloads
from bol_emulator.business import BusinessState
from bol_emulator.inventory_api import truth_row as inventory_row

Rows = list[dict[str, Any]]


def returns(state: BusinessState) -> Rows:
    return [return_payloads.truth_row(state.retailer_id, r) for r in _returns(state)]


def return_items(state: BusinessState) -> Rows:
    return [return_payloads.item_truth_row(state.retailer_id, r, i) for r in _returns(state) for i in r.items]


def processing_results(state: BusinessState) -> Rows:
    return [
        row
        for r in _returns(state)
        for i in r.items
        for row in return_payloads.result_truth_rows(state.retailer_id, r, i)
    ]


def shipments(state: BusinessState) -> Rows:
    return [shipment_payloads.truth_row(state.retailer_id, s) for s in _shipments(state)]


def shipment_items(state: BusinessState) -> Rows:
    return [shipment_payloads.item_truth_row(state.retailer_id, s, p) for s in _shipments(state) for p in s.items]


def inventory(state: BusinessState) -> Rows:
    return [inventory_row(state.retailer_id, item) for item in state.stock.values()]


def invoices(state: BusinessState) -> Rows:
    return [invoice_payloads.truth_row(state.retailer_id, i) for i in _invoices(state)]


def invoice_lines(state: BusinessState) -> Rows:
    return [invoice_payloads.line_truth_row(state.retailer_id, line) for i in _invoices(state) for line in i.lines]


def _returns(state: BusinessState) -> list[Any]:
    return sorted(state.returns.values(), key=lambda r: (r.registered_at, r.return_id))


def _shipments(state: BusinessState) -> list[Any]:
    return sorted(state.shipments.values(), key=lambda s: (s.shipped_at, s.shipment_id))


def _invoices(state: BusinessState) -> list[Any]:
    return sorted(state.invoices.values(), key=lambda i: (i.issue_date, i.invoice_id))


TABLES: dict[str, Callable[[BusinessState], Rows]] = {
    "returns": returns,
    "return-items": return_items,
    "return-processing-results": processing_results,
    "shipments": shipments,
    "shipment-items": shipment_items,
    "inventory": inventory,
    "invoices": invoices,
    "invoice-lines": invoice_lines,
}


def rows(table: str) -> Callable[[BusinessState, datetime], Rows]:
    """The reader of one table, for :meth:`bol_emulator.business.Business.read`."""
    build = TABLES[table]
    return lambda state, _: build(state)
