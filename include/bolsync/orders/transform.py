"""Pure pandas transforms from bol order JSON to warehouse rows (no I/O), and the checks that decide which
orders the warehouse can hold.

:class:`OrderChecks` checks one list entry or full order against what the warehouse columns hold
(``runs.values``: 32-bit quantities, ``DECIMAL(12,2)`` prices, times with a zone and not in the future, ids
without control characters, items that are objects) and raises ``InvalidRecord`` naming the order, the item
and the field; the load holds such an order in the quarantine (``runs.quarantine``) and lands the rest.

Customer personal data (names, addresses, e-mail, phone, VAT/KvK numbers) is never read here.
Missing optional fields become nulls; a missing required field raises BolResponseError naming it.
Control characters (PostgreSQL cannot store NUL; no bol id or code holds one): free text (product title,
offer reference) loses them, keeping tab and newline, with a warning naming each value; an id or code that
holds one is malformed bol data (BolResponseError, fatal), as is a value of the wrong type.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from bolsync.orders.spec import ORDER_ITEMS, ORDERS
from bolsync.runs import values
from bolsync.runs.record_at import RecordAt
from bolsync_provider.errors import BolResponseError

log = logging.getLogger(__name__)

ITEM_STATUS_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "order_id": "string",
    "order_item_id": "string",
    "ean": "string",
    "quantity": "Int64",
    "quantity_shipped": "Int64",
    "quantity_cancelled": "Int64",
    "fulfilment_method": "string",
    "fulfilment_status": "string",
    "cancellation_request": "boolean",
    "latest_changed_at": "datetime64[us, UTC]",
}

ITEM_DETAIL_DTYPES: dict[str, str] = {
    **ITEM_STATUS_DTYPES,
    "unit_price": "Float64",
    "total_price": "Float64",
    "commission": "Float64",
    "discount_total": "Float64",
    "offer_id": "string",
    "offer_reference": "string",
    "product_title": "string",
    "distribution_party": "string",
    "latest_delivery_date": "datetime64[us]",
    "exact_delivery_date": "datetime64[us]",
    "expiry_date": "datetime64[us]",
    "time_frame_type": "string",
}

ORDER_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "order_id": "string",
    "order_placed_at": "datetime64[us, UTC]",
    "pickup_point": "boolean",
    "shipment_country_code": "string",
    "item_count": "Int64",
}

_STATUS_FIELDS = {
    "ean": "ean",
    "quantity": "quantity",
    "quantity_shipped": "quantityShipped",
    "quantity_cancelled": "quantityCancelled",
    "fulfilment_status": "fulfilmentStatus",
    "cancellation_request": "cancellationRequest",
    "latest_changed_at": "latestChangedDateTime",
}


#: Free-text columns: control characters are removed from them; every other text column is an id or a code.
FREE_TEXT = frozenset({"product_title", "offer_reference"})
#: C0/C1 control characters and lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: The same, but tab and newline, which free text may hold.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
#: The bol field behind each column, for error messages.
_BOL_FIELDS = {
    "order_id": "orderId",
    "order_item_id": "orderItemId",
    "ean": "ean",
    "quantity": "quantity",
    "quantity_shipped": "quantityShipped",
    "quantity_cancelled": "quantityCancelled",
    "fulfilment_method": "fulfilment method",
    "fulfilment_status": "fulfilmentStatus",
    "cancellation_request": "cancellationRequest",
    "unit_price": "unitPrice",
    "total_price": "totalPrice",
    "commission": "commission",
    "discount_total": "discounts",
    "offer_id": "offer.offerId",
    "offer_reference": "offer.reference",
    "product_title": "product.title",
    "distribution_party": "fulfilment.distributionParty",
    "time_frame_type": "fulfilment.timeFrameType",
    "pickup_point": "pickupPoint",
    "shipment_country_code": "shipmentDetails.countryCode",
    "item_count": "orderItems",
}


def _require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    value = obj.get(key)
    if value is None or value == "":
        raise BolResponseError(f"bol sent malformed order data: {where}: required field '{key}' is missing")
    return value


#: The bol field behind each time column, for error messages.
_TIME_FIELDS = {
    "latest_changed_at": "latestChangedDateTime",
    "order_placed_at": "orderPlacedDateTime",
    "latest_delivery_date": "latestDeliveryDate",
    "exact_delivery_date": "exactDeliveryDate",
    "expiry_date": "expiryDate",
}


def _where(row: Mapping[str, Any]) -> str:
    """``order X item Y`` of a row, safe to print whatever bol sent."""
    where = f"order {str(row.get('order_id'))[:40]!r}"
    return f"{where} item {str(row['order_item_id'])[:40]!r}" if row.get("order_item_id") is not None else where


def _check_times(rows: list[dict[str, Any]], column: str) -> None:
    """Every value is an ISO 8601 date/time (pandas would read 'now' or 'NaT' as a time or as null)."""
    for row in rows:
        value = row.get(column)
        if value is None:
            continue
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            raise BolResponseError(
                f"bol sent malformed order data: {_where(row)}: "
                f"{_TIME_FIELDS.get(column, column)} {str(value)[:60]!r} is not an ISO 8601 date/time"
            ) from None


def _clean_texts(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> None:
    """Remove control characters from free text (in place; logged) and refuse them in ids and codes."""
    cleaned: list[str] = []
    for column in (c for c, dtype in dtypes.items() if dtype == "string"):
        pattern = _CONTROL_IN_TEXT if column in FREE_TEXT else _CONTROL
        if not pattern.search("".join(v for row in rows if isinstance(v := row.get(column), str))):
            continue  # the usual case: one scan of the whole column
        for row in rows:
            value = row.get(column)
            if not isinstance(value, str) or (found := pattern.search(value)) is None:
                continue
            field = _BOL_FIELDS.get(column, column)
            if column not in FREE_TEXT:
                raise BolResponseError(
                    f"bol sent malformed order data: {_where(row)}: {field} {value[:60]!r} contains the control "
                    f"character U+{ord(found.group()):04X}; ids and codes are never cleaned, so nothing was loaded."
                )
            row[column] = pattern.sub("", value)
            cleaned.append(f"{_where(row)} {field}")
    if cleaned:
        shown = "; ".join(cleaned[:10]) + (" ..." if len(cleaned) > 10 else "")
        log.warning(
            "Removed control characters (tab and newline kept) from %d order text values bol sent: %s",
            len(cleaned),
            shown,
        )


def _cast(frame: pd.DataFrame, rows: list[dict[str, Any]], column: str, dtype: str) -> pd.Series:
    """``frame[column]`` as ``dtype``; a value of the wrong type is malformed bol data naming its order."""
    try:
        return frame[column].astype(dtype)
    except (ValueError, TypeError, OverflowError):
        for row in rows:
            try:
                pd.Series([row.get(column)], dtype="object").astype(dtype)
            except (ValueError, TypeError, OverflowError):
                raise BolResponseError(
                    f"bol sent malformed order data: {_where(row)}: {_BOL_FIELDS.get(column, column)} "
                    f"{str(row.get(column))[:60]!r} is not a valid {dtype} value"
                ) from None
        raise


def _frame(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    _clean_texts(rows, dtypes)
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            _check_times(rows, column)
    frame = pd.DataFrame(rows, columns=list(dtypes))
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64") and "UTC" in dtype:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype(dtype)
        elif dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype(dtype)
        else:
            frame[column] = _cast(frame, rows, column, dtype)
    return frame


def order_item_status_rows(retailer_id: str, orders: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows of the mutable item state from ``GET /retailer/orders`` pages (ReducedOrder objects)."""
    rows: list[dict[str, Any]] = []
    for order in orders:
        order_id = str(_require(order, "orderId", "order list entry"))
        for item in order.get("orderItems") or []:
            where = f"order {order_id} list item"
            row = {
                "retailer_id": retailer_id,
                "order_id": order_id,
                "order_item_id": str(_require(item, "orderItemId", where)),
                "fulfilment_method": item.get("fulfilmentMethod"),
            }
            for column, key in _STATUS_FIELDS.items():
                row[column] = item.get(key)
            _require(item, "latestChangedDateTime", where)
            rows.append(row)
    return latest_per_item(_frame(rows, ITEM_STATUS_DTYPES))


def order_rows(retailer_id: str, details: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per order from full orders (``GET /retailer/orders/{id}``), without personal data."""
    rows = []
    for order in details:
        order_id = str(_require(order, "orderId", "order detail"))
        shipment = order.get("shipmentDetails") or {}
        rows.append(
            {
                "retailer_id": retailer_id,
                "order_id": order_id,
                "order_placed_at": order.get("orderPlacedDateTime"),
                "pickup_point": order.get("pickupPoint", order.get("pickUpPoint")),
                "shipment_country_code": shipment.get("countryCode"),
                "item_count": len(order.get("orderItems") or []),
            }
        )
    return _frame(rows, ORDER_DTYPES).drop_duplicates(list(ORDERS.key), keep="last")


def order_item_detail_rows(retailer_id: str, details: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Full item rows (prices, commission, offer, product, fulfilment) from full orders."""
    rows = []
    for order in details:
        order_id = str(_require(order, "orderId", "order detail"))
        for item in order.get("orderItems") or []:
            where = f"order {order_id} item"
            fulfilment = item.get("fulfilment") or {}
            offer = item.get("offer") or {}
            product = item.get("product") or {}
            discounts = item.get("discounts") or []
            row = {
                "retailer_id": retailer_id,
                "order_id": order_id,
                "order_item_id": str(_require(item, "orderItemId", where)),
                "ean": product.get("ean") or item.get("ean"),
                "quantity": item.get("quantity"),
                "quantity_shipped": item.get("quantityShipped"),
                "quantity_cancelled": item.get("quantityCancelled"),
                "fulfilment_method": fulfilment.get("method"),
                "fulfilment_status": item.get("fulfilmentStatus") or _status_from_counts(item),
                "cancellation_request": item.get("cancellationRequest"),
                "latest_changed_at": item.get("latestChangedDateTime"),
                "unit_price": item.get("unitPrice"),
                "total_price": item.get("totalPrice"),
                "commission": item.get("commission"),
                "discount_total": sum(float(d.get("amount") or 0) for d in discounts) if discounts else None,
                "offer_id": offer.get("offerId"),
                "offer_reference": offer.get("reference"),
                "product_title": product.get("title"),
                "distribution_party": fulfilment.get("distributionParty"),
                "latest_delivery_date": fulfilment.get("latestDeliveryDate"),
                "exact_delivery_date": fulfilment.get("exactDeliveryDate"),
                "expiry_date": fulfilment.get("expiryDate"),
                "time_frame_type": fulfilment.get("timeFrameType"),
            }
            rows.append(row)
    return latest_per_item(_frame(rows, ITEM_DETAIL_DTYPES))


def _status_from_counts(item: Mapping[str, Any]) -> str | None:
    """The detail endpoint has no fulfilmentStatus: HANDLED once every unit is shipped or cancelled."""
    quantity = item.get("quantity")
    if quantity is None:
        return None
    done = (item.get("quantityShipped") or 0) + (item.get("quantityCancelled") or 0)
    return "HANDLED" if done >= quantity else "OPEN"


def latest_per_item(items: pd.DataFrame) -> pd.DataFrame:
    """Keep one row per item key: the one with the newest ``latest_changed_at``."""
    if items.empty:
        return items.reset_index(drop=True)
    ordered = items.sort_values(ORDER_ITEMS.version, kind="stable", na_position="first")
    return ordered.drop_duplicates(list(ORDER_ITEMS.key), keep="last").reset_index(drop=True)


Check = Callable[[Any], None]

#: ReducedOrderItem fields of a list entry the warehouse stores (``latestChangedDateTime`` is checked apart).
_LIST_ITEM_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ean", values.code),
    ("fulfilmentMethod", values.code),
    ("fulfilmentStatus", values.code),
    ("quantity", values.integer),
    ("quantityShipped", values.integer),
    ("quantityCancelled", values.integer),
    ("cancellationRequest", values.boolean),
)
#: OrderOrderItem fields of a full order the warehouse stores (nested objects and discounts apart).
_DETAIL_ITEM_CHECKS: tuple[tuple[str, Check], ...] = (
    *_LIST_ITEM_CHECKS[:1],
    *_LIST_ITEM_CHECKS[2:],
    ("unitPrice", values.amount),
    ("totalPrice", values.amount),
    ("commission", values.amount),
)
_SHIPMENT_CHECKS: tuple[tuple[str, Check], ...] = (("countryCode", values.code),)
_NESTED_CHECKS: dict[str, tuple[tuple[str, Check], ...]] = {
    "fulfilment": (
        ("method", values.code),
        ("distributionParty", values.code),
        ("latestDeliveryDate", values.day),
        ("exactDeliveryDate", values.day),
        ("expiryDate", values.day),
        ("timeFrameType", values.code),
    ),
    "offer": (("offerId", values.code), ("reference", values.text)),
    "product": (("ean", values.code), ("title", values.text)),
}


class OrderChecks:
    """One order-list entry or full order against what the warehouse holds; :class:`InvalidRecord` names the
    order, the item and the field of the first value it cannot store.

    ``not_after`` is the latest time a record may carry (``values.latest_allowed`` of the extract's clock): a
    later change or placement time is garbage, and as an item's version it would freeze the item.
    """

    def __init__(self, not_after: datetime | None = None) -> None:
        self.not_after = not_after
        version = ("latestChangedDateTime", self._version)
        self._list_item = (("orderItemId", _required_code), *_LIST_ITEM_CHECKS, version)
        self._detail_item = (("orderItemId", _required_code), *_DETAIL_ITEM_CHECKS, version)
        self._order = (
            ("pickupPoint", values.boolean),
            ("pickUpPoint", values.boolean),
            ("orderPlacedDateTime", self._time),
        )

    def list_entry(self, order: Mapping[str, Any]) -> None:
        """A ``GET /retailer/orders`` entry: its id and the items the window kept."""
        for at, item in _items(_At.order(order), order):
            at.check_all(self._list_item, item)

    def detail(self, order: Mapping[str, Any]) -> None:
        """A full order (``GET /retailer/orders/{id}``, without personal data): order and item columns."""
        top = _At.order(order)
        top.check_all(self._order, order)
        shipment = top.as_object(order.get("shipmentDetails"), "shipmentDetails")
        top.check_all(_SHIPMENT_CHECKS, shipment, "shipmentDetails.")
        for at, item in _items(top, order):
            at.check_all(self._detail_item, item)
            for parent, checks in _NESTED_CHECKS.items():
                at.check_all(checks, at.as_object(item.get(parent), parent), f"{parent}.")
            discounts = item.get("discounts")
            if discounts:
                self._discounts(at, at.as_array(discounts, "discounts"))

    def _discounts(self, at: _At, discounts: list[Any]) -> None:
        total = 0.0
        for number, discount in enumerate(discounts):
            amount = at.as_object(discount, f"discounts[{number}]").get("amount")
            at.check(values.amount, amount, f"discounts[{number}].amount")
            total += float(amount or 0)
        at.check(values.amount, total, "discounts", "(their total)")

    def _time(self, value: Any) -> None:
        values.moment(value, self.not_after)

    def _version(self, value: Any) -> None:
        """The item's version: required, with a zone, not in the future."""
        values.moment(value, self.not_after, required=True)


class _At(RecordAt):
    """Where in an order a value sits: for the message (order, item) and the stored field path."""

    __slots__ = ()

    def __init__(self, order_id: Any, item_id: Any = None, path: str = "") -> None:
        super().__init__("order", order_id, item_id, path)

    @classmethod
    def order(cls, order: Mapping[str, Any]) -> _At:
        at = cls(order.get("orderId"))
        at.check(_required_code, at.key, "orderId")
        return at

    def check(self, check: Check, value: Any, field: str, label: str = "") -> None:
        try:
            check(value)
        except values.ValueProblem as problem:
            raise self.refuse(field, f"{label} {problem}".lstrip()) from None


def _required_code(value: Any) -> None:
    values.code(value, required=True)


def _items(top: _At, order: Mapping[str, Any]) -> Iterator[tuple[_At, Mapping[str, Any]]]:
    """Each item of the order (an object), with where it sits."""
    for number, item in enumerate(top.as_array(order.get("orderItems"), "orderItems")):
        if not isinstance(item, Mapping):
            field = f"orderItems[{number}]"
            raise top.refuse(field, f"is {values.described(item)}, not an object")
        yield _At(top.key, item.get("orderItemId"), f"orderItems[{number}]."), item


#: Blocks of a full order that hold customer data.
PERSONAL_BLOCKS = ("shipmentDetails", "billingDetails")


def without_personal_data(order: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a full order the warehouse uses; names, addresses, e-mail, phone, VAT/KvK dropped.

    A ``shipmentDetails`` that is no object is replaced by a note of its type (it may hold an address as text),
    so the checks refuse the order instead of losing its country silently.
    """
    shipment = order.get("shipmentDetails")
    kept = {k: v for k, v in order.items() if k not in PERSONAL_BLOCKS}
    if isinstance(shipment, Mapping):
        if "countryCode" in shipment:
            kept["shipmentDetails"] = {"countryCode": shipment["countryCode"]}
    elif shipment is not None:
        kept["shipmentDetails"] = f"(personal data removed: shipmentDetails was {values.kind(shipment)})"
    return kept
