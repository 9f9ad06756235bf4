"""Pure transforms from bol offer data (v10 export CSV, v11 OfferResponse JSON) to warehouse rows (no I/O).

The CSV is read by header name: reordered columns are fine, unknown columns are kept in ``extra`` (a JSON
object keyed by bol's header), and a documented column that is missing leaves the stored value alone
(the load only updates the columns a source actually provided). A line with fewer fields than the header,
or a file that ends inside a quoted value, is a truncated file: nothing of it is loaded.

Control characters (which PostgreSQL cannot store, or that no bol id contains): free text (condition
comment, reference, unknown fields) loses them, keeping tab and newline, with a warning naming each value;
an id or code that holds one is malformed bol data (:class:`BolResponseError`, fatal).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from bolsync.warehouse.base import Table
from bolsync_provider.errors import BolResponseError

log = logging.getLogger(__name__)

#: The offers stream's tables, declared once: transforms, merges, quality checks and the DDL test read them.
OFFERS = Table("bol.offers", ("retailer_id", "offer_id"), version="mutation_date_time")
OFFER_SNAPSHOTS = Table("bol.offer_snapshots", ("retailer_id", "offer_id", "snapshot_date"))

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
    """Parsed offers: one row per source line, and which warehouse columns the source provided."""

    frame: pd.DataFrame
    provided: list[str]

    @property
    def source_rows(self) -> int:
        return len(self.frame)


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
        return int(str(value).strip())
    except ValueError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {value!r} is not a whole number") from None


def _price(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return round(float(str(value).strip().replace(",", ".")), 2)
    except ValueError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {value!r} is not a price") from None


def parse_time(value: Any, where: str) -> datetime | None:
    """bol's export ``2019-06-04 11:03:12.26 UTC`` or v11's ``2026-11-20T13:03:11.250Z`` as a UTC instant."""
    text = _text(value)
    if text is None:
        return None
    iso = text.removesuffix(" UTC").removesuffix("Z")
    if "." in iso:
        whole, fraction = iso.split(".", 1)
        digits = "".join(ch for ch in fraction if ch.isdigit())
        iso = f"{whole}.{digits[:6].ljust(6, '0')}{fraction[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise BolResponseError(f"bol sent malformed offer data: {where}: {text!r} is not a time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_CONVERTERS = {
    "unit_price": _price,
    "stock_amount": _int,
    "corrected_stock": _int,
    "on_hold_by_retailer": _bool,
    "mutation_date_time": parse_time,
}


def _convert(column: str, value: Any, where: str, cleaned: Cleaned) -> Any:
    converter = _CONVERTERS.get(column)
    if converter:
        return converter(value, where)  # type: ignore[operator]
    return cleaned.text(value, where) if column in FREE_TEXT else _key(value, where)


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


def parse_export_csv(text: str) -> OfferRows:
    """The export file, by header name. Lines without an offer id, short lines and a file that ends inside a
    quoted value are malformed (or truncated) bol data."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    lines = _lines(reader)
    header = [name.strip() for name in next(lines, (0, []))[1]]
    if "offerId" not in header:
        raise BolResponseError(
            f"bol sent an offer export without an 'offerId' column (header: {', '.join(header) or 'empty'})."
        )
    cleaned = Cleaned()
    offer_at = header.index("offerId")
    records = [_export_record(header, offer_at, fields, line, cleaned) for line, fields in lines]
    cleaned.report()
    provided = [CSV_COLUMNS[name] for name in header if name in CSV_COLUMNS]
    return OfferRows(_frame(records), provided)


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


def _export_record(header: list[str], offer_at: int, fields: list[str], line: int, cleaned: Cleaned) -> dict[str, Any]:
    if len(fields) < len(header):
        raise BolResponseError(
            f"bol sent a truncated offer export: line {line} has {len(fields)} fields, the header {len(header)} "
            f"(the file ends or breaks inside that line); nothing of it is loaded."
        )
    offer_id = _key(fields[offer_at], f"export line {line}, offerId")
    if not offer_id:
        raise BolResponseError(f"bol sent malformed offer data: export line {line} has no offerId.")
    where = f"export line {line} (offer {offer_id})"
    record: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in zip(header, fields, strict=False):
        if name in CSV_COLUMNS:
            record[CSV_COLUMNS[name]] = _convert(CSV_COLUMNS[name], value, f"{where}, {name}", cleaned)
        else:
            extra[name] = value
    if len(fields) > len(header):  # more fields than the header names: keep them, in order
        extra["_unnamed"] = fields[len(header) :]
    record["extra"] = _extra_json(cleaned.any(extra, f"{where}, extra"))
    return record


def _unit_price(pricing: Any) -> Any:
    bundles = pricing.get("bundlePrices") if isinstance(pricing, Mapping) else None
    if not isinstance(bundles, list) or not bundles:
        return None
    single = [b for b in bundles if isinstance(b, Mapping) and b.get("quantity") == 1]
    chosen = single[0] if single else bundles[0]
    return chosen.get("unitPrice") if isinstance(chosen, Mapping) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def v11_record(offer: Mapping[str, Any], cleaned: Cleaned | None = None) -> dict[str, Any]:
    """One v11 OfferResponse as a warehouse row (the fields bolsync does not map go to ``extra``)."""
    cleaned = cleaned or Cleaned()
    offer_id = _key(offer.get("offerId"), "v11 offer, offerId")
    where = f"v11 offer {offer_id}"
    if not offer_id:
        raise BolResponseError("bol sent malformed offer data: a v11 offer has no offerId.")
    condition = _mapping(offer.get("condition"))
    category = _key(condition.get("category"), f"{where}, condition.category")
    state = condition.get("state") or condition.get("grade")
    name = category if category == "NEW" else _key(state, f"{where}, condition.state")
    stock = _mapping(offer.get("stock"))
    fulfilment = _mapping(offer.get("fulfilment"))
    extra = {k: v for k, v in offer.items() if k not in _V11_MAPPED}
    extra.update({f"stock.{k}": v for k, v in stock.items() if k not in ("amount", "correctedStock")})
    extra.update({f"fulfilment.{k}": v for k, v in fulfilment.items() if k != "method"})
    return {
        "offer_id": offer_id,
        "ean": _key(offer.get("ean"), f"{where}, ean"),
        "condition_name": name,
        "condition_category": category,
        "condition_comment": cleaned.text(condition.get("comment"), f"{where}, condition.comment"),
        "unit_price": _price(_unit_price(offer.get("pricing")), f"{where}, pricing"),
        "stock_amount": _int(stock.get("amount"), f"{where}, stock.amount"),
        "corrected_stock": _int(stock.get("correctedStock"), f"{where}, stock.correctedStock"),
        "on_hold_by_retailer": _bool(offer.get("onHoldByRetailer"), f"{where}, onHoldByRetailer"),
        "fulfilment_type": _key(fulfilment.get("method"), f"{where}, fulfilment.method"),
        "mutation_date_time": parse_time(offer.get("lastModifiedDateTime"), f"{where}, lastModifiedDateTime"),
        "reference_code": cleaned.text(offer.get("reference"), f"{where}, reference"),
        "economic_operator_id": _key(offer.get("economicOperatorId"), f"{where}, economicOperatorId"),
        "extra": _extra_json(cleaned.any(extra, f"{where}, extra")),
    }


def parse_v11_offers(offers: Iterable[Mapping[str, Any]]) -> OfferRows:
    cleaned = Cleaned()
    rows = OfferRows(_frame([v11_record(offer, cleaned) for offer in offers]), list(V11_COLUMNS))
    cleaned.report()
    return rows


def latest_per_offer(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per offer id (the last line wins), for the upsert; the quality check compares counts."""
    per_retailer = [c for c in OFFERS.key if c != "retailer_id"]
    return frame.drop_duplicates(subset=per_retailer, keep="last").reset_index(drop=True)
