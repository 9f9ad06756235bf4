"""What one invoice becomes in the warehouse (pure pandas, no I/O): its ``bol.invoices`` row, its
``bol.invoice_lines`` rows, or what is held in the quarantine and why.

* The specification was read and its lines add up (``reconcile``): the invoice row (``reconciled``) and every
  line land.
* The lines do not add up (``unbalanced``), or a line holds a value that cannot be right (``refused``): the
  invoice row lands with that status, its lines are held in ``bol.quarantine`` (key: the invoice id; the raw list
  entry, detail and lines, and the reason) and land when a later read adds up. Holding them rather than landing
  them flagged keeps an invariant every consumer can rely on: each line in ``bol.invoice_lines`` belongs to an
  invoice whose lines were checked against its totals per VAT rate, so no sum over the table counts money that
  does not add up.
* bol offers no JSON specification (``xlsx_only``: only the spreadsheet; ``missing``: none, or 404): the invoice
  row lands with the list's totals and that status, no line; it is reported, not held.
* The invoice itself (its list entry or its detail) holds a value that cannot be right: nothing of it lands, it
  is held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from bolsync.invoices import documents
from bolsync.invoices.documents import Detail, Line, Listed, canonical
from bolsync.invoices.reconcile import TOLERANCE, reconcile
from bolsync.runs.quarantine import InvalidRecord, Rejected

RECONCILED = "reconciled"
UNBALANCED = "unbalanced"
REFUSED = "refused"
XLSX_ONLY = "xlsx_only"
MISSING = "missing"
#: Statuses of an invoice bol offers no JSON specification of.
WITHOUT_SPECIFICATION = (XLSX_ONLY, MISSING)
#: What the extract stages for an invoice it read (``specification``): its lines were read.
READ = "read"
#: The latest date an invoice may carry, after the day it was read (later is garbage, not an invoice).
LATEST_DATE = timedelta(days=366)
#: The latest moment a line may carry, after the time it was read (clock skew).
LATEST_MOMENT = timedelta(hours=1)

INVOICE_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "invoice_id": "string",
    "invoice_type": "string",
    "issue_date": "datetime64[us]",
    "period_start": "datetime64[us]",
    "period_end": "datetime64[us]",
    "currency": "string",
    "total_excl_vat": "Float64",
    "total_vat": "Float64",
    "total_incl_vat": "Float64",
    "vat_by_rate": "string",
    "specification_status": "string",
    "specification_read": "boolean",
    "reconciled": "boolean",
    "line_count": "Int64",
    "open_amount": "Float64",
    "open_amount_at": "datetime64[us, UTC]",
    "read_at": "datetime64[us, UTC]",
    "extra": "string",
}
LINE_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "invoice_id": "string",
    "line_key": "string",
    "line_ref": "string",
    "bol_line_id": "string",
    "charge_type": "string",
    "description": "string",
    "order_id": "string",
    "order_item_id": "string",
    "ean": "string",
    "shipment_id": "string",
    "rma_id": "string",
    "quantity": "Float64",
    "amount_excl_vat": "Float64",
    "vat_rate": "Float64",
    "vat_category": "string",
    "vat_amount": "Float64",
    "currency": "string",
    "transaction_at": "datetime64[us, UTC]",
    "transaction_date": "datetime64[us]",
    "extra": "string",
}
OPEN_AMOUNT_DTYPES = {c: INVOICE_DTYPES[c] for c in ("retailer_id", "invoice_id", "open_amount", "open_amount_at")}


@dataclass
class Assessed:
    """What one listed invoice becomes (see the module docstring)."""

    invoice_id: str
    status: str | None
    row: dict[str, Any] | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    held: Rejected | None = None

    @property
    def landed_whole(self) -> bool:
        """Whether everything bol said of it lands (a held record of it is released)."""
        return self.held is None and self.row is not None


def assess(entry: Listed, document: Mapping[str, Any], listed_at: datetime) -> Assessed:
    """The invoice ``entry`` lists, with what the extract read of it (``document``)."""
    read_at = datetime.fromisoformat(str(document["read_at"]))
    status = str(document["specification"])
    if status in WITHOUT_SPECIFICATION:
        row = _row(entry, None, status, read_at, listed_at)
        return Assessed(entry.invoice_id, status, row)
    raw = {"listed": entry.raw, "detail": document.get("detail"), "specification": document.get("lines")}
    not_after = read_at.date() + LATEST_DATE
    try:
        figures = documents.detail(entry.invoice_id, document.get("detail"), not_after)
    except InvalidRecord as error:
        return Assessed(entry.invoice_id, None, held=Rejected.of(error, raw))
    try:
        read = documents.lines(entry.invoice_id, list(document.get("lines") or []), read_at + LATEST_MOMENT)
        _same_currency(entry.invoice_id, _currency(entry, figures), read)
    except InvalidRecord as error:
        row = _row(entry, figures, REFUSED, read_at, listed_at, line_count=len(document.get("lines") or []))
        return Assessed(entry.invoice_id, REFUSED, row, held=Rejected.of(error, raw))
    sums = documents.sums_by_rate(read)
    check = reconcile(sums, _total_excl(entry, figures), _total_vat(entry, figures), figures.by_rate)
    if not check.balanced:
        reason = (
            f"invoice {entry.invoice_id}: its {len(read)} specification lines do not add up to its totals "
            f"(within {TOLERANCE} per VAT rate): {check.describe()}"
        )
        row = _row(entry, figures, UNBALANCED, read_at, listed_at, line_count=len(read))
        held = Rejected.of_record(entry.invoice_id, raw, reason, "invoiceSpecification")
        return Assessed(entry.invoice_id, UNBALANCED, row, held=held)
    row = _row(entry, figures, RECONCILED, read_at, listed_at, line_count=len(read))
    line_rows = [{**line.row, "extra": _json(line.extra)} for line in read]
    return Assessed(entry.invoice_id, RECONCILED, row, lines=line_rows)


def _row(
    entry: Listed,
    figures: Detail | None,
    status: str,
    read_at: datetime,
    listed_at: datetime,
    line_count: int | None = None,
) -> dict[str, Any]:
    excl, vat = _total_excl(entry, figures), _total_vat(entry, figures)
    incl = figures.total_incl_vat.amount if figures and figures.total_incl_vat else None
    if incl is None and figures is None and entry.total_incl_vat is not None:
        incl = entry.total_incl_vat.amount
    if incl is None and excl is not None and vat is not None:
        incl = excl + vat
    extra = {"list": entry.extra, "detail": figures.extra if figures else None}
    return {
        "invoice_id": entry.invoice_id,
        "invoice_type": entry.invoice_type,
        "issue_date": _first(figures and figures.issue_date, entry.issue_date),
        "period_start": _first(figures and figures.period_start, entry.period_start),
        "period_end": _first(figures and figures.period_end, entry.period_end),
        "currency": _currency(entry, figures),
        "total_excl_vat": excl,
        "total_vat": vat,
        "total_incl_vat": incl,
        "vat_by_rate": documents.rates_json(figures.by_rate) if figures else None,
        "specification_status": status,
        "specification_read": status in (RECONCILED, UNBALANCED, REFUSED),
        "reconciled": status == RECONCILED,
        "line_count": line_count,
        "open_amount": entry.open_amount.amount if entry.open_amount else None,
        "open_amount_at": listed_at if entry.open_amount else None,
        "read_at": read_at,
        "extra": _json({k: v for k, v in extra.items() if v is not None} or None),
    }


def _first(*found: Any) -> Any:
    return next((value for value in found if value), None)


def _total_excl(entry: Listed, figures: Detail | None) -> Decimal | None:
    if figures is not None and figures.total_excl_vat is not None:
        return figures.total_excl_vat.amount
    return entry.total_excl_vat.amount if entry.total_excl_vat else None


def _total_vat(entry: Listed, figures: Detail | None) -> Decimal | None:
    if figures is not None and figures.total_vat is not None:
        return figures.total_vat.amount
    if figures is not None and figures.total_excl_vat is not None and figures.total_incl_vat is not None:
        return figures.total_incl_vat.amount - figures.total_excl_vat.amount
    if entry.total_excl_vat is not None and entry.total_incl_vat is not None:
        return entry.total_incl_vat.amount - entry.total_excl_vat.amount
    return None


def _currency(entry: Listed, figures: Detail | None) -> str | None:
    named = [figures.currency] if figures else []
    for money in (figures.total_excl_vat if figures else None, entry.total_excl_vat, entry.total_incl_vat):
        named.append(money.currency if money else None)
    return _first(*named)


def _same_currency(invoice_id: str, currency: str | None, read: Iterable[Line]) -> None:
    """Refuse a line in another currency than the invoice's (its amounts could not be added up)."""
    for number, line in enumerate(read, start=1):
        if currency and line.row["currency"] and line.row["currency"] != currency:
            raise InvalidRecord(
                f"bol sent malformed invoice data: invoice {invoice_id!r} specification line {number}: its "
                f"currency {line.row['currency']} is not the invoice's ({currency})",
                key=invoice_id,
                field=f"invoiceSpecification[{number - 1}].lineExtensionAmount.currencyID",
            )


def _json(value: Any) -> str | None:
    return canonical(value) if value is not None else None


def invoice_frame(retailer_id: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """``bol.invoices`` rows (one per invoice)."""
    return _frame(retailer_id, rows, INVOICE_DTYPES)


def line_frame(retailer_id: str, invoice_rows: Iterable[tuple[str, Iterable[Mapping[str, Any]]]]) -> pd.DataFrame:
    """``bol.invoice_lines`` rows of (invoice id, its line rows)."""
    rows = [{**line, "invoice_id": invoice_id} for invoice_id, lines in invoice_rows for line in lines]
    return _frame(retailer_id, rows, LINE_DTYPES)


def open_amount_frame(retailer_id: str, entries: Iterable[Listed], listed_at: datetime) -> pd.DataFrame:
    """What the list says is still open of each invoice, as of ``listed_at``."""
    rows = [
        {"invoice_id": e.invoice_id, "open_amount": e.open_amount.amount, "open_amount_at": listed_at}
        for e in entries
        if e.open_amount is not None
    ]
    return _frame(retailer_id, rows, OPEN_AMOUNT_DTYPES)


def _frame(retailer_id: str, rows: Iterable[Mapping[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    records = [{**{c: _plain(row.get(c)) for c in dtypes}, "retailer_id": retailer_id} for row in rows]
    frame = pd.DataFrame(records, columns=list(dtypes))
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc="UTC" in dtype).astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def _plain(value: Any) -> Any:
    """A value pandas types exactly: Decimal as float (whole cents and rates fit a float), a date as midnight."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value
