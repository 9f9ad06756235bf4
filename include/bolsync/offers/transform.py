"""Pure transforms from bol offer data (v10 export CSV, v11 OfferResponse JSON) to warehouse rows (no I/O).

The CSV is read by header name: reordered columns are fine, unknown columns are kept in ``extra`` (a JSON
object keyed by bol's header), and a documented column that is missing leaves the stored value alone
(the load only updates the columns a source actually provided). A line with fewer fields than the header,
or a file that ends inside a quoted value, is a truncated file: nothing of it is loaded.

Control characters (which PostgreSQL cannot store, or that no bol id contains): free text (condition
comment, reference, unknown fields) loses them, keeping tab and newline, with a warning naming each value.

One offer the warehouse cannot hold (an id or code with a control character, a stock beyond INTEGER, a price
beyond DECIMAL(12,2) or not finite, a time without a zone or later than the extract, no offer id) is refused
with an ``InvalidRecord`` naming the offer and the field, and kept apart in ``OfferRows.rejected`` (the load
holds it in the quarantine, ``runs.quarantine``); the other offers of the file land. A file that is cut short
or has no offer id column is refused whole.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from bolsync.offers.spec import OFFERS
from bolsync.runs import values
from bolsync.runs.quarantine import InvalidRecord, Rejected
from bolsync_provider.errors import BolResponseError

log = logging.getLogger(__name__)

#: Warehouse column -> pandas dtype of one offer row (without retailer_id/extra).
OFFER_DTYPES: dict[str, str] = {
    "offer_id": "string",
    "ean": "string",
    "condition_name": "string",
    "condition_category": "string",
    "condition_comment": "string",
    "unit_price": "Float64",
    "fulfilment_delivery_code": "string",
    "stock_amount": "Int64",
    "corrected_stock": "Int64",
    "on_hold_by_retailer": "boolean",
    "fulfilment_type": "string",
    "mutation_date_time": "datetime64[us, UTC]",
    "reference_code": "string",
    "economic_operator_id": "string",
}

#: The export header (bol's documented columns plus economicOperatorId) -> warehouse column.
CSV_COLUMNS: dict[str, str] = {
    "offerId": "offer_id",
    "ean": "ean",
    "conditionName": "condition_name",
    "conditionCategory": "condition_category",
    "conditionComment": "condition_comment",
    "bundlePricesPrice": "unit_price",
    "fulfilmentDeliveryCode": "fulfilment_delivery_code",
    "stockAmount": "stock_amount",
    "correctedStock": "corrected_stock",
    "onHoldByRetailer": "on_hold_by_retailer",
    "fulfilmentType": "fulfilment_type",
    "mutationDateTime": "mutation_date_time",
    "referenceCode": "reference_code",
    "economicOperatorId": "economic_operator_id",
}

#: Free-text columns: control characters are removed from them; every other text column is an id or a code.
FREE_TEXT = frozenset({"condition_comment", "reference_code"})
#: C0/C1 control characters and lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: The same, but tab and newline, which free text may hold.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

#: Columns the v11 OfferResponse fills (it has no delivery code: that stays as the export left it).
V11_COLUMNS = [c for c in OFFER_DTYPES if c != "fulfilment_delivery_code"]
#: v11 fields mapped to columns; every other top-level field goes to ``extra``.
_V11_MAPPED = {
    "offerId",
    "ean",
    "condition",
    "pricing",
    "stock",
    "onHoldByRetailer",
    "fulfilment",
    "lastModifiedDateTime",
    "reference",
    "economicOperatorId",
}


@dataclass
class OfferRows:
    """Parsed offers: one row per valid source line, which warehouse columns the source provided, and the lines
    refused (held in the quarantine by the load)."""

    frame: pd.DataFrame
    provided: list[str]
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def source_rows(self) -> int:
        """Offers in the source, refused ones included."""
        return len(self.frame) + len(self.rejected)

    @property
    def keys_complete(self) -> bool:
        """Whether every source line named a usable offer id (a full list can then tell which offers are gone)."""
        return all(r.keyed for r in self.rejected)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class Cleaned:
    """Where control characters were removed from free text during one parse (logged once at the end)."""

    def __init__(self) -> None:
        self.places: list[str] = []

    def text(self, value: Any, where: str) -> str | None:
        """Free text without control characters (tab and newline stay)."""
        text = _text(value)
        if text is None or not _CONTROL_IN_TEXT.search(text):
            return text
        self.places.append(where)
        return _text(_CONTROL_IN_TEXT.sub("", text))

    def any(self, value: Any, where: str) -> Any:
        """A JSON value of ``extra`` with control characters removed from every string in it."""
        if isinstance(value, str):
            if not _CONTROL_IN_TEXT.search(value):
                return value
            self.places.append(where)
            return _CONTROL_IN_TEXT.sub("", value)
        if isinstance(value, Mapping):
            return {self.any(k, where): self.any(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.any(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def report(self) -> None:
        if self.places:
            shown = "; ".join(self.places[:10]) + (" ..." if len(self.places) > 10 else "")
            log.warning(
                "Removed control characters (tab and newline kept) from %d offer text values bol sent: %s",
                len(self.places),
                shown,
            )


def _key(value: Any, where: str) -> str | None:
    """An id or code: a control character in it is malformed bol data, never cleaned."""
    text = _text(value)
    found = _CONTROL.search(text) if text else None
    if text and found:
        raise BolResponseError(
            f"bol sent malformed offer data: {where}: {text[:60]!r} contains the control character "
            f"U+{ord(found.group()):04X}; ids and codes are never cleaned, so nothing was loaded."
        )
    return text


def _bool(value: Any, where: str) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in ("true", "false"):
        return text == "true"
    raise BolResponseError(f"bol sent malformed offer data: {where}: {value!r} is not true/false")


def _int(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {value!r} is not a whole number") from None
    if not values.INTEGER_MIN <= number <= values.INTEGER_MAX:
        raise BolResponseError(
            f"bol sent malformed offer data: {where}: {number} is outside INTEGER "
            f"({values.INTEGER_MIN}..{values.INTEGER_MAX})"
        )
    return number


def _price(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        price = round(float(str(value).strip().replace(",", ".")), 2)
    except ValueError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {value!r} is not a price") from None
    if not math.isfinite(price) or abs(price) > values.DECIMAL_12_2_MAX:
        raise BolResponseError(
            f"bol sent malformed offer data: {where}: {value!r} is not a price DECIMAL(12,2) holds "
            f"(a finite amount of at most {values.DECIMAL_12_2_MAX:.2f})"
        )
    return price


def parse_time(value: Any, where: str, not_after: datetime | None = None) -> datetime | None:
    """bol's export ``2019-06-04 11:03:12.26 UTC`` or v11's ``2026-11-20T13:03:11.250Z`` as a UTC instant;
    a time without a zone, before 1970 or after ``not_after`` is malformed."""
    text = _text(value)
    if text is None:
        return None
    iso = text.removesuffix(" UTC").removesuffix("Z")
    zoned = iso != text
    if "." in iso:
        whole, fraction = iso.split(".", 1)
        digits = "".join(ch for ch in fraction if ch.isdigit())
        iso = f"{whole}.{digits[:6].ljust(6, '0')}{fraction[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {text!r} is not a time") from None
    if moment.tzinfo is None and not zoned:
        raise BolResponseError(
            f"bol sent malformed offer data: {where}: {text!r} has no timezone (' UTC', 'Z' or an offset)"
        )
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if moment < values.EARLIEST or (not_after is not None and moment > not_after):
        raise BolResponseError(
            f"bol sent malformed offer data: {where}: {text!r} is before {values.EARLIEST:%Y} or later than the "
            "extract itself"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {text!r} is beyond the year 9999") from None


_CONVERTERS = {
    "unit_price": _price,
    "stock_amount": _int,
    "corrected_stock": _int,
    "on_hold_by_retailer": _bool,
    "mutation_date_time": parse_time,
}


def _convert(column: str, value: Any, where: str, cleaned: Cleaned, not_after: datetime | None) -> Any:
    if column == "mutation_date_time":
        return parse_time(value, where, not_after)
    converter = _CONVERTERS.get(column)
    if converter:
        return converter(value, where)  # type: ignore[operator]
    return cleaned.text(value, where) if column in FREE_TEXT else _key(value, where)


def _field(offer_id: Any, name: str, convert: Callable[..., Any], *args: Any) -> Any:
    """``convert(*args)``; malformed data names the offer and the field (the load holds the offer)."""
    try:
        return convert(*args)
    except BolResponseError as error:
        raise InvalidRecord(str(error), key=offer_id, field=name) from None


def _extra_json(extra: Mapping[str, Any]) -> str | None:
    return json.dumps(dict(extra), sort_keys=True, ensure_ascii=False, separators=(",", ":")) if extra else None


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    columns = {**OFFER_DTYPES, "extra": "string"}
    data = {c: [r.get(c) for r in records] for c in columns}
    frame = pd.DataFrame({c: pd.Series(data[c], dtype="object") for c in columns})
    for column, dtype in columns.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def parse_export_csv(text: str, not_after: datetime | None = None) -> OfferRows:
    """The export file, by header name. Short lines and a file that ends inside a quoted value are a truncated
    file (refused whole); a line the warehouse cannot hold (no offer id, a malformed value, a time after
    ``not_after``) is refused alone, into ``rejected``."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    lines = _lines(reader)
    header = [name.strip() for name in next(lines, (0, []))[1]]
    if "offerId" not in header:
        raise BolResponseError(
            f"bol sent an offer export without an 'offerId' column (header: {', '.join(header) or 'empty'})."
        )
    cleaned = Cleaned()
    offer_at = header.index("offerId")
    records: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for line, fields in lines:
        try:
            records.append(_export_record(header, offer_at, fields, line, cleaned, not_after))
        except InvalidRecord as error:
            rejected.append(Rejected.of(error, _line_json(header, fields)))
    cleaned.report()
    provided = [CSV_COLUMNS[name] for name in header if name in CSV_COLUMNS]
    return OfferRows(_frame(records), provided, rejected)


def _line_json(header: list[str], fields: list[str]) -> dict[str, Any]:
    """An export line as JSON: its fields by header name (more fields than the header under ``_unnamed``)."""
    line: dict[str, Any] = dict(zip(header, fields, strict=False))
    if len(fields) > len(header):
        line["_unnamed"] = fields[len(header) :]
    return line


def _lines(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of every non-blank CSV record; a broken quote is a truncated or malformed
    file."""
    start = 1
    try:
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as error:
        raise BolResponseError(
            f"bol sent a truncated or malformed offer export: line {start}: {error}; nothing of it is loaded."
        ) from None


def _export_record(
    header: list[str], offer_at: int, fields: list[str], line: int, cleaned: Cleaned, not_after: datetime | None
) -> dict[str, Any]:
    if len(fields) < len(header):
        raise BolResponseError(
            f"bol sent a truncated offer export: line {line} has {len(fields)} fields, the header {len(header)} "
            f"(the file ends or breaks inside that line); nothing of it is loaded."
        )
    offer_id = _field(None, "offerId", _key, fields[offer_at], f"export line {line}, offerId")
    if not offer_id:
        message = f"bol sent malformed offer data: export line {line} has no offerId."
        raise InvalidRecord(message, key=None, field="offerId")
    where = f"export line {line} (offer {offer_id})"
    record: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in zip(header, fields, strict=False):
        if name in CSV_COLUMNS:
            column = CSV_COLUMNS[name]
            record[column] = _field(offer_id, name, _convert, column, value, f"{where}, {name}", cleaned, not_after)
        else:
            extra[name] = value
    if len(fields) > len(header):  # more fields than the header names: keep them, in order
        extra["_unnamed"] = fields[len(header) :]
    record["extra"] = _extra_json(cleaned.any(extra, f"{where}, extra"))
    return record


def _unit_price(pricing: Any, where: str) -> Any:
    """The price of one unit: the bundle price for quantity 1, else the first bundle's."""
    bundles = _object(pricing, where).get("bundlePrices")
    if bundles is None:
        return None
    if not isinstance(bundles, list) or not all(isinstance(b, Mapping) for b in bundles):
        raise BolResponseError(f"bol sent malformed offer data: {where}.bundlePrices is not an array of objects")
    single = [b for b in bundles if b.get("quantity") == 1]
    chosen = single[0] if single else (bundles[0] if bundles else {})
    return chosen.get("unitPrice")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    """A nested object of a v11 offer (``{}`` when absent); anything else is malformed."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BolResponseError(f"bol sent malformed offer data: {where} is {values.described(value)}, not an object")
    return value


def v11_record(
    offer: Mapping[str, Any], cleaned: Cleaned | None = None, not_after: datetime | None = None
) -> dict[str, Any]:
    """One v11 OfferResponse as a warehouse row (the fields bolsync does not map go to ``extra``); a value the
    warehouse cannot hold is an ``InvalidRecord`` naming the offer and the field."""
    cleaned = cleaned or Cleaned()
    offer_id = _field(None, "offerId", _key, offer.get("offerId"), "v11 offer, offerId")
    if not offer_id:
        raise InvalidRecord("bol sent malformed offer data: a v11 offer has no offerId.", key=None, field="offerId")
    where = f"v11 offer {offer_id}"

    def at(name: str, convert: Callable[..., Any], value: Any, *more: Any) -> Any:
        return _field(offer_id, name, convert, value, f"{where}, {name}", *more)

    condition = at("condition", _object, offer.get("condition"))
    category = at("condition.category", _key, condition.get("category"))
    state = condition.get("state") or condition.get("grade")
    name = category if category == "NEW" else at("condition.state", _key, state)
    stock = at("stock", _object, offer.get("stock"))
    fulfilment = at("fulfilment", _object, offer.get("fulfilment"))
    extra = {k: v for k, v in offer.items() if k not in _V11_MAPPED}
    extra.update({f"stock.{k}": v for k, v in stock.items() if k not in ("amount", "correctedStock")})
    extra.update({f"fulfilment.{k}": v for k, v in fulfilment.items() if k != "method"})
    return {
        "offer_id": offer_id,
        "ean": at("ean", _key, offer.get("ean")),
        "condition_name": name,
        "condition_category": category,
        "condition_comment": cleaned.text(condition.get("comment"), f"{where}, condition.comment"),
        "unit_price": at("pricing", _price, at("pricing", _unit_price, offer.get("pricing"))),
        "stock_amount": at("stock.amount", _int, stock.get("amount")),
        "corrected_stock": at("stock.correctedStock", _int, stock.get("correctedStock")),
        "on_hold_by_retailer": at("onHoldByRetailer", _bool, offer.get("onHoldByRetailer")),
        "fulfilment_type": at("fulfilment.method", _key, fulfilment.get("method")),
        "mutation_date_time": at("lastModifiedDateTime", parse_time, offer.get("lastModifiedDateTime"), not_after),
        "reference_code": cleaned.text(offer.get("reference"), f"{where}, reference"),
        "economic_operator_id": at("economicOperatorId", _key, offer.get("economicOperatorId")),
        "extra": _extra_json(cleaned.any(extra, f"{where}, extra")),
    }


def parse_v11_offers(offers: Iterable[Mapping[str, Any]], not_after: datetime | None = None) -> OfferRows:
    """v11 OfferResponses as rows; one the warehouse cannot hold is refused alone, into ``rejected``."""
    cleaned = Cleaned()
    records: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for offer in offers:
        try:
            records.append(v11_record(offer, cleaned, not_after))
        except InvalidRecord as error:
            rejected.append(Rejected.of(error, offer))
    cleaned.report()
    return OfferRows(_frame(records), list(V11_COLUMNS), rejected)


def latest_per_offer(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per offer id (the last line wins), for the upsert; the quality check compares counts."""
    per_retailer = [c for c in OFFERS.key if c != "retailer_id"]
    return frame.drop_duplicates(subset=per_retailer, keep="last").reset_index(drop=True)
