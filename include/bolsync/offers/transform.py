"""Pure transforms from bol offer data (v10 export CSV, v11 OfferResponse JSON) to warehouse rows (no I/O).

The CSV is read by header name: reordered columns are fine, unknown columns are kept in ``extra`` (a JSON
object keyed by bol's header), and a documented column that is missing leaves the stored value alone
(the load only updates the columns a source actually provided).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from bolsync.warehouse.base import Table
from bolsync_provider.errors import BolResponseError

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


def _convert(column: str, value: Any, where: str) -> Any:
    converter = _CONVERTERS.get(column)
    return converter(value, where) if converter else _text(value)  # type: ignore[operator]


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
    """The export file, by header name. Lines without an offer id are malformed bol data."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if "offerId" not in header:
        raise BolResponseError(
            f"bol sent an offer export without an 'offerId' column (header: {', '.join(header) or 'empty'})."
        )
    reader.fieldnames = header
    records = []
    for line, raw in enumerate(reader, start=2):
        record: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, value in raw.items():
            if name is None:  # more fields than the header names: keep them, in order
                extra["_unnamed"] = value
            elif name in CSV_COLUMNS:
                record[CSV_COLUMNS[name]] = _convert(CSV_COLUMNS[name], value, f"export line {line}, {name}")
            else:
                extra[name] = value
        if not record.get("offer_id"):
            raise BolResponseError(f"bol sent malformed offer data: export line {line} has no offerId.")
        record["extra"] = _extra_json(extra)
        records.append(record)
    provided = [CSV_COLUMNS[name] for name in header if name in CSV_COLUMNS]
    return OfferRows(_frame(records), provided)


def _unit_price(pricing: Any) -> Any:
    bundles = pricing.get("bundlePrices") if isinstance(pricing, Mapping) else None
    if not isinstance(bundles, list) or not bundles:
        return None
    single = [b for b in bundles if isinstance(b, Mapping) and b.get("quantity") == 1]
    chosen = single[0] if single else bundles[0]
    return chosen.get("unitPrice") if isinstance(chosen, Mapping) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def v11_record(offer: Mapping[str, Any]) -> dict[str, Any]:
    """One v11 OfferResponse as a warehouse row (the fields bolsync does not map go to ``extra``)."""
    offer_id = _text(offer.get("offerId"))
    where = f"v11 offer {offer_id}"
    if not offer_id:
        raise BolResponseError("bol sent malformed offer data: a v11 offer has no offerId.")
    condition = _mapping(offer.get("condition"))
    category = _text(condition.get("category"))
    name = category if category == "NEW" else _text(condition.get("state") or condition.get("grade"))
    stock = _mapping(offer.get("stock"))
    fulfilment = _mapping(offer.get("fulfilment"))
    extra = {k: v for k, v in offer.items() if k not in _V11_MAPPED}
    extra.update({f"stock.{k}": v for k, v in stock.items() if k not in ("amount", "correctedStock")})
    extra.update({f"fulfilment.{k}": v for k, v in fulfilment.items() if k != "method"})
    return {
        "offer_id": offer_id,
        "ean": _text(offer.get("ean")),
        "condition_name": name,
        "condition_category": category,
        "condition_comment": _text(condition.get("comment")),
        "unit_price": _price(_unit_price(offer.get("pricing")), f"{where}, pricing"),
        "stock_amount": _int(stock.get("amount"), f"{where}, stock.amount"),
        "corrected_stock": _int(stock.get("correctedStock"), f"{where}, stock.correctedStock"),
        "on_hold_by_retailer": _bool(offer.get("onHoldByRetailer"), f"{where}, onHoldByRetailer"),
        "fulfilment_type": _text(fulfilment.get("method")),
        "mutation_date_time": parse_time(offer.get("lastModifiedDateTime"), f"{where}, lastModifiedDateTime"),
        "reference_code": _text(offer.get("reference")),
        "economic_operator_id": _text(offer.get("economicOperatorId")),
        "extra": _extra_json(extra),
    }


def parse_v11_offers(offers: Iterable[Mapping[str, Any]]) -> OfferRows:
    return OfferRows(_frame([v11_record(offer) for offer in offers]), list(V11_COLUMNS))


def latest_per_offer(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per offer id (the last line wins), for the upsert; the quality check compares counts."""
    per_retailer = [c for c in OFFERS.key if c != "retailer_id"]
    return frame.drop_duplicates(subset=per_retailer, keep="last").reset_index(drop=True)
