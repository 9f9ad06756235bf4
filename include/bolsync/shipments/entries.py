"""bol's shipment JSON (``ReducedShipment`` of the list, ``Shipment`` of the detail): what the stream reads of it
before any check, and the parts that are personal data.

Customer data sits in ``shipmentDetails`` and ``billingDetails`` (detail only: name, address, e-mail, phone): the
order's own, so an opted-in account's copy goes to the orders' personal store (keyed by order id).
:func:`without_personal_data` removes both before anything is staged for the warehouse, archived for an account
that did not opt in, or held in the quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

PERSONAL_BLOCKS = ("shipmentDetails", "billingDetails")
#: Transport events after which a parcel's journey has ended: its detail is not re-read for them.
FINAL_EVENTS = frozenset(
    {"DELIVERED_AT_CUSTOMER", "DELIVERED_AT_NEIGHBOURS", "PICKED_UP_AT_PICK_UP_POINT", "RETURNED_TO_SENDER"}
)


def shipment_id(entry: Mapping[str, Any]) -> str:
    """The shipment's id as text ('' when it has none)."""
    value = entry.get("shipmentId")
    return "" if value is None or isinstance(value, bool) else str(value)


def shipped_at(entry: Mapping[str, Any]) -> datetime | None:
    """``shipmentDateTime`` as an aware time, None when missing or unreadable (the checks refuse it later)."""
    value = entry.get("shipmentDateTime")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def order_id(entry: Mapping[str, Any]) -> str | None:
    """The id of the shipment's order (None when it names none)."""
    order = entry.get("order")
    value = order.get("orderId") if isinstance(order, Mapping) else None
    return None if value is None else str(value)


def without_personal_data(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The shipment without ``shipmentDetails`` and ``billingDetails`` (anything else as bol sent it)."""
    return {key: value for key, value in entry.items() if key not in PERSONAL_BLOCKS}


def without_personal_page(body: Any) -> Any:
    """A list page (``{"shipments": [...]}``) with every shipment :func:`without_personal_data`."""
    if isinstance(body, Mapping) and isinstance(body.get("shipments"), list):
        shipments = [without_personal_data(s) if isinstance(s, Mapping) else s for s in body["shipments"]]
        return {**body, "shipments": shipments}
    return body


def without_personal_body(body: Any) -> Any:
    """A detail body without personal data (anything that is no object as it is)."""
    return without_personal_data(body) if isinstance(body, Mapping) else body
