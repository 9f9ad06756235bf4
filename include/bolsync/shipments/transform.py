"""Pure transforms from bol's shipment JSON (without personal data) to warehouse rows, and the checks that decide
which shipments the warehouse can hold.

:class:`ShipmentChecks` checks one list entry or detail against the warehouse columns (``runs.values``: ids and
codes without control characters, 32-bit quantities, DECIMAL(12,2) amounts, times with a zone and not in the
future, items and transport events that are objects) and raises ``InvalidRecord`` naming the shipment, the item
and the field; the load holds such a shipment in the quarantine and lands the rest.

A load keeps one row per key: a shipment's list fields from its newest read (list entry or detail), its detail
fields (transport, events, pickup point) from its newest detail read; its items come from that detail only (the
list has no quantities).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from bolsync.runs import values
from bolsync.runs.record_at import RecordAt
from bolsync.shipments.entries import FINAL_EVENTS

SHIPMENT_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "shipment_id": "string",
    "shipped_at": "datetime64[us, UTC]",
    "shipment_reference": "string",
    "fulfilment_method": "string",
    "order_id": "string",
    "order_placed_at": "datetime64[us, UTC]",
    "transport_id": "string",
    "item_count": "Int64",
    "observed_at": "datetime64[us, UTC]",
    "pickup_point": "boolean",
    "transporter_code": "string",
    "track_and_trace": "string",
    "shipping_label_id": "string",
    "transport_events": "string",
    "event_count": "Int64",
    "latest_event_code": "string",
    "latest_event_at": "datetime64[us, UTC]",
    "journey_ended": "boolean",
    "detail_read_at": "datetime64[us, UTC]",
}
#: Columns a list entry carries (the rest only a detail fills; a list read never clears them).
LIST_COLUMNS = ("shipped_at", "shipment_reference", "fulfilment_method", "order_id", "order_placed_at",
                "transport_id", "item_count")  # fmt: skip
DETAIL_COLUMNS = ("pickup_point", "transporter_code", "track_and_trace", "shipping_label_id", "transport_events",
                  "event_count", "latest_event_code", "latest_event_at", "journey_ended")  # fmt: skip
ITEM_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "shipment_id": "string",
    "order_item_id": "string",
    "order_id": "string",
    "ean": "string",
    "title": "string",
    "offer_id": "string",
    "fulfilment_method": "string",
    "quantity": "Int64",
    "quantity_ordered": "Int64",
    "unit_price": "Float64",
    "commission": "Float64",
    "detail_read_at": "datetime64[us, UTC]",
}
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

Check = Callable[[Any], None]


@dataclass(frozen=True)
class Observation:
    """One read of a shipment (list entry or detail, without personal data): its list's fulfilment method and when
    it arrived."""

    entry: Mapping[str, Any]
    method: str
    observed_at: datetime
    from_detail: bool


class ShipmentChecks:
    """One shipment read against what the warehouse holds; :class:`InvalidRecord` names the shipment, the item and
    the field of the first value it cannot store. No time may be later than the read that brought it."""

    def __init__(self) -> None:
        self.not_after: datetime | None = None

    def check(self, seen: Observation) -> None:
        """Raise InvalidRecord for the first value of ``seen`` the warehouse cannot hold."""
        self.not_after = values.latest_allowed(seen.observed_at)
        entry, detail = seen.entry, seen.from_detail
        at = _At(entry.get("shipmentId"))
        at.check(_required(values.code), entry.get("shipmentId"), "shipmentId")
        at.check(self._required_time, entry.get("shipmentDateTime"), "shipmentDateTime")
        at.check(values.text, entry.get("shipmentReference"), "shipmentReference")
        if detail:
            at.check(values.boolean, entry.get("pickupPoint"), "pickupPoint")
        order = at.as_object(entry.get("order"), "order", required=True)
        at.check(_required(values.code), order.get("orderId"), "order.orderId")
        at.check(self._time, order.get("orderPlacedDateTime"), "order.orderPlacedDateTime")
        items = at.as_array(entry.get("shipmentItems"), "shipmentItems")
        seen_items: set[str] = set()
        for number, raw in enumerate(items):
            field = f"shipmentItems[{number}]"
            item = at.as_object(raw, field, required=True)
            at.check(_required(values.code), item.get("orderItemId"), f"{field}.orderItemId")
            item_at = _At(at.key, item.get("orderItemId"), f"{field}.")
            if str(item.get("orderItemId")) in seen_items:
                raise item_at.refuse("orderItemId", "appears twice in the shipment")
            seen_items.add(str(item.get("orderItemId")))
            product = item_at.as_object(item.get("product"), "product")
            item_at.check(values.code, item.get("ean") if "ean" in item else product.get("ean"), "ean")
            if detail:
                item_at.check(_required(values.integer), item.get("quantityShipped"), "quantityShipped")
                item_at.check(values.integer, item.get("quantity"), "quantity")
                item_at.check(values.amount, item.get("unitPrice"), "unitPrice")
                item_at.check(values.amount, item.get("commission"), "commission")
                item_at.check(values.text, product.get("title"), "product.title")
                offer = item_at.as_object(item.get("offer"), "offer")
                item_at.check(values.code, offer.get("offerId"), "offer.offerId")
                fulfilment = item_at.as_object(item.get("fulfilment"), "fulfilment")
                item_at.check(values.code, fulfilment.get("method"), "fulfilment.method")
        transport = at.as_object(entry.get("transport"), "transport")
        at.check(values.code, transport.get("transportId"), "transport.transportId")
        if detail:
            for name in ("transporterCode", "trackAndTrace", "shippingLabelId"):
                at.check(values.code, transport.get(name), f"transport.{name}")
            for number, raw in enumerate(at.as_array(transport.get("transportEvents"), "transport.transportEvents")):
                field = f"transport.transportEvents[{number}]"
                event = at.as_object(raw, field, required=True)
                at.check(_required(values.code), event.get("eventCode"), f"{field}.eventCode")
                at.check(self._required_time, event.get("eventDateTime"), f"{field}.eventDateTime")

    def _time(self, value: Any) -> None:
        values.moment(value, self.not_after)

    def _required_time(self, value: Any) -> None:
        values.moment(value, self.not_after, required=True)


def _At(key: Any, item: Any = None, path: str = "") -> RecordAt:
    """Where in a shipment a value sits (see ``runs.record_at``)."""
    return RecordAt("shipment", key, item, path, item_label="item (orderItemId)")


def _required(check: Callable[..., None]) -> Check:
    def required(value: Any) -> None:
        check(value, required=True)

    return required


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _clean(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else _CONTROL_IN_TEXT.sub("", text)


def _utc_text(value: Any) -> str:
    return pd.Timestamp(str(value)).tz_convert("UTC").isoformat()


def events_of(transport: Mapping[str, Any]) -> list[dict[str, str]]:
    """The transport events oldest first, as stored (``event_code``, ``event_at`` in UTC)."""
    events = [
        {"event_code": str(event["eventCode"]), "event_at": _utc_text(event["eventDateTime"])}
        for event in transport.get("transportEvents") or []
    ]
    return sorted(events, key=lambda event: (pd.Timestamp(event["event_at"]), event["event_code"]))


def shipment_rows(retailer_id: str, observations: Iterable[Observation]) -> pd.DataFrame:
    """One row per shipment: list fields of its newest read, detail fields of its newest detail read."""
    newest: dict[str, dict[str, Any]] = {}
    details: dict[str, dict[str, Any]] = {}
    for seen in sorted(observations, key=lambda s: s.observed_at):
        entry = seen.entry
        key = str(entry["shipmentId"])
        order = entry.get("order") or {}
        newest[key] = {
            "retailer_id": retailer_id,
            "shipment_id": key,
            "shipped_at": entry["shipmentDateTime"],
            "shipment_reference": _clean(entry.get("shipmentReference")),
            "fulfilment_method": seen.method,
            "order_id": str(order["orderId"]),
            "order_placed_at": order.get("orderPlacedDateTime"),
            "transport_id": _text((entry.get("transport") or {}).get("transportId")),
            "item_count": len(entry.get("shipmentItems") or []),
            "observed_at": seen.observed_at,
        }
        if seen.from_detail:
            transport = entry.get("transport") or {}
            events = events_of(transport)
            latest = events[-1] if events else None
            details[key] = {
                "pickup_point": entry.get("pickupPoint"),
                "transporter_code": _text(transport.get("transporterCode")),
                "track_and_trace": _text(transport.get("trackAndTrace")),
                "shipping_label_id": _text(transport.get("shippingLabelId")),
                "transport_events": json.dumps(events, separators=(",", ":")),
                "event_count": len(events),
                "latest_event_code": latest["event_code"] if latest else None,
                "latest_event_at": latest["event_at"] if latest else None,
                "journey_ended": ended(events, transport),
                "detail_read_at": seen.observed_at,
            }
    rows = [{**row, **details.get(key, {})} for key, row in newest.items()]
    return _frame(rows, SHIPMENT_DTYPES)


def ended(events: Sequence[Mapping[str, str]], transport: Mapping[str, Any]) -> bool:
    """Whether the parcel's journey has ended: a final event, or no track and trace (nothing will follow)."""
    if transport.get("trackAndTrace") in (None, ""):
        return True
    return any(event["event_code"] in FINAL_EVENTS for event in events)


def item_rows(retailer_id: str, observations: Iterable[Observation]) -> pd.DataFrame:
    """One row per shipment item, from the shipment's newest detail read."""
    newest: dict[str, Observation] = {}
    for seen in sorted(observations, key=lambda s: s.observed_at):
        if seen.from_detail:
            newest[str(seen.entry["shipmentId"])] = seen
    rows = []
    for key, seen in newest.items():
        order = seen.entry.get("order") or {}
        for item in seen.entry.get("shipmentItems") or []:
            product = item.get("product") or {}
            rows.append(
                {
                    "retailer_id": retailer_id,
                    "shipment_id": key,
                    "order_item_id": str(item["orderItemId"]),
                    "order_id": str(order["orderId"]),
                    "ean": _text(product.get("ean", item.get("ean"))),
                    "title": _clean(product.get("title")),
                    "offer_id": _text((item.get("offer") or {}).get("offerId")),
                    "fulfilment_method": _text((item.get("fulfilment") or {}).get("method")) or seen.method,
                    "quantity": item["quantityShipped"],
                    "quantity_ordered": item.get("quantity"),
                    "unit_price": item.get("unitPrice"),
                    "commission": item.get("commission"),
                    "detail_read_at": seen.observed_at,
                }
            )
    return _frame(rows, ITEM_DTYPES)


def _frame(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(dtypes))
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame
