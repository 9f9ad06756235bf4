"""JSON shapes of returns: bol's ReducedReturn and Return, and the emulator's ground-truth rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bol_emulator.model import AMSTERDAM, amsterdam_iso, utc_iso
from bol_emulator.returns import ProcessingResult, Return, ReturnItem


def amsterdam_iso_ms(moment: datetime) -> str:
    """ISO 8601 with milliseconds and the Amsterdam offset, like bol's ``registrationDateTime``."""
    return moment.astimezone(AMSTERDAM).isoformat(timespec="milliseconds")


def utc_iso_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and an explicit ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def reason(item: ReturnItem) -> dict[str, Any]:
    body: dict[str, Any] = {"mainReason": item.main_reason}
    if item.detailed_reason is not None:
        body["detailedReason"] = item.detailed_reason
    body["customerComments"] = item.customer_comments
    return body


def processing_result(result: ProcessingResult) -> dict[str, Any]:
    return {
        "quantity": result.quantity,
        "processingResult": result.result,
        "handlingResult": result.handling_result,
        "processingDateTime": amsterdam_iso(result.processed_at),
    }


def reduced_item(item: ReturnItem) -> dict[str, Any]:
    """A ReducedReturnItem."""
    return {
        "rmaId": item.rma_id,
        "orderId": item.order_id,
        "ean": item.ean,
        "expectedQuantity": item.expected_quantity,
        "returnReason": reason(item),
        "handled": item.handled,
        "processingResults": [processing_result(r) for r in item.results],
    }


def return_item(item: ReturnItem) -> dict[str, Any]:
    """A ReturnItem with title, transport and the customer's details (personal data)."""
    body = reduced_item(item)
    body["title"] = item.title
    if item.track_and_trace is not None:
        body["trackAndTrace"] = item.track_and_trace
    if item.transporter_name is not None:
        body["transporterName"] = item.transporter_name
    body["customerDetails"] = dict(item.customer)
    return body


def reduced_return(value: Return) -> dict[str, Any]:
    """A ReducedReturn."""
    return {
        "returnId": value.return_id,
        "registrationDateTime": amsterdam_iso_ms(value.registered_at),
        "fulfilmentMethod": value.fulfilment_method,
        "returnItems": [reduced_item(item) for item in value.items],
    }


def full_return(value: Return) -> dict[str, Any]:
    """A Return."""
    return {
        "returnId": value.return_id,
        "registrationDateTime": amsterdam_iso_ms(value.registered_at),
        "fulfilmentMethod": value.fulfilment_method,
        "returnItems": [return_item(item) for item in value.items],
    }


def truth_row(retailer_id: str, value: Return) -> dict[str, Any]:
    """One ``returns`` truth row."""
    return {
        "retailer_id": retailer_id,
        "return_id": value.return_id,
        "registered_at": utc_iso_ms(value.registered_at),
        "fulfilment_method": value.fulfilment_method,
        "handled": value.handled,
        "rma_ids": [item.rma_id for item in value.items],
    }


def item_truth_row(retailer_id: str, value: Return, item: ReturnItem) -> dict[str, Any]:
    """One ``return_items`` truth row; ``order_item_id`` is None for orders older than the world's history."""
    return {
        "retailer_id": retailer_id,
        "return_id": value.return_id,
        "rma_id": item.rma_id,
        "order_id": item.order_id,
        "order_item_id": item.item.order_item_id if item.item else None,
        "ean": item.ean,
        "title": item.title,
        "expected_quantity": item.expected_quantity,
        "main_reason": item.main_reason,
        "detailed_reason": item.detailed_reason,
        "customer_comments": item.customer_comments,
        "handled": item.handled,
        "track_and_trace": item.track_and_trace,
        "transporter_name": item.transporter_name,
        "registered_at": utc_iso_ms(value.registered_at),
        "fulfilment_method": value.fulfilment_method,
        "customer_details": dict(item.customer),
    }


def result_truth_rows(retailer_id: str, value: Return, item: ReturnItem) -> list[dict[str, Any]]:
    """The ``return_processing_results`` truth rows of one item (``seq``: 1-based position in its list)."""
    return [
        {
            "retailer_id": retailer_id,
            "return_id": value.return_id,
            "rma_id": item.rma_id,
            "seq": seq,
            "quantity": result.quantity,
            "processing_result": result.result,
            "handling_result": result.handling_result,
            "processed_at": utc_iso(result.processed_at),
        }
        for seq, result in enumerate(item.results, start=1)
    ]
