"""One invoice as bol describes it: its list entry, its UBL detail and its specification lines, read into typed
values (pure, no I/O). A value that cannot be right raises ``InvalidRecord`` naming the invoice and the field.

Which fields are read, and from where (``shapes`` reads each one's documented shapes):

* list entry (``invoiceListItems[]``): ``invoiceId``, ``invoiceType``, ``issueDate``, ``invoicePeriod.startDate``
  and ``.endDate``, ``openAmount`` (what is still unpaid: a payment state, refreshed from every listing),
  ``legalMonetaryTotal.taxExclusiveAmount`` and ``.taxInclusiveAmount`` (the totals of an invoice whose detail
  is not read), ``specificationMediaTypes.availableMediaTypes`` (whether a JSON specification is offered);
* detail (UBL JSON): ``ID``, ``IssueDate``, ``InvoicePeriod``, ``DocumentCurrencyCode``,
  ``LegalMonetaryTotal.TaxExclusiveAmount`` (else ``LineExtensionAmount``) and ``.TaxInclusiveAmount``,
  ``TaxTotal.TaxAmount`` and ``TaxTotal.TaxSubtotal[]`` (``TaxableAmount``, ``TaxAmount``,
  ``TaxCategory.Percent``: the totals per VAT rate); ``TaxTotal`` and ``TaxSubtotal`` may be one object or a list;
* specification line (``invoiceSpecification[]``): ``invoiceLineRef``, ``id``, ``item.Name`` (the charge
  type), ``item.Description``, ``invoicedQuantity``, ``lineExtensionAmount`` (excluding VAT),
  ``taxTotal.TaxAmount`` (one object or a list), ``item.ClassifiedTaxCategory[0]`` (``Percent``, ``ID``) and
  ``item.AdditionalItemProperty[]`` named ``orderId``, ``orderItemId``, ``ean``, ``shipmentId``, ``rmaId``,
  ``transactionDate`` (matched without regard to case).

Everything else of each stays in the row's ``extra``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bolsync.invoices import shapes
from bolsync.invoices.shapes import Consumed, Money, Path
from bolsync.runs import values
from bolsync.runs.quarantine import InvalidRecord
from bolsync.runs.windows import AMSTERDAM

JSON_MEDIA = "application/json"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The links a line may name (``AdditionalItemProperty``), lower case -> column.
LINE_LINKS = {
    "orderid": "order_id",
    "orderitemid": "order_item_id",
    "ean": "ean",
    "shipmentid": "shipment_id",
    "rmaid": "rma_id",
}
TRANSACTION_DATE = "transactiondate"
#: Control characters free text loses (tab and newline stay).
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Listed:
    """One ``invoiceListItems`` entry."""

    invoice_id: str
    invoice_type: str | None
    issue_date: date | None
    period_start: date | None
    period_end: date | None
    total_excl_vat: Money | None
    total_incl_vat: Money | None
    open_amount: Money | None
    #: Whether the list offers the specification as JSON (None: the entry does not say).
    json_offered: bool | None
    #: Whether the list offers it as xlsx (None: the entry does not say).
    xlsx_offered: bool | None
    extra: Any
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Detail:
    """The figures of one UBL invoice (``GET /retailer/invoices/{id}``)."""

    issue_date: date | None
    period_start: date | None
    period_end: date | None
    currency: str | None
    total_excl_vat: Money | None
    total_incl_vat: Money | None
    total_vat: Money | None
    #: VAT rate -> (taxable amount, VAT), the subtotals of one rate added up (None: the detail gives none).
    by_rate: dict[Decimal | None, tuple[Decimal, Decimal]] | None
    extra: Any


@dataclass(frozen=True)
class Line:
    """One specification line as a ``bol.invoice_lines`` row (without retailer and invoice), what it was, and what
    of it no column maps (``extra``)."""

    row: dict[str, Any]
    raw: Mapping[str, Any]
    extra: Any = None

    @property
    def rate(self) -> Decimal | None:
        rate: Decimal | None = self.row["vat_rate"]
        return rate

    @property
    def amount(self) -> Decimal:
        amount: Decimal = self.row["amount_excl_vat"]
        return amount

    @property
    def vat(self) -> Decimal:
        vat: Decimal | None = self.row["vat_amount"]
        return vat if vat is not None else ZERO


@dataclass
class Reader:
    """Reads one record's fields, naming the invoice (and line) in every refusal."""

    invoice_id: Any
    record: Any
    where: str = ""
    prefix: str = ""
    consumed: Consumed = field(default_factory=Consumed)

    def refuse(self, field: str, problem: str) -> InvalidRecord:
        place = f"invoice {str(self.invoice_id)[:40]!r}" + (f" {self.where}" if self.where else "")
        message = f"bol sent malformed invoice data: {place}: {field} {problem}"
        return InvalidRecord(message, key=self.invoice_id, field=self.prefix + field)

    def read(self, reader: Any, path: Path, keep: bool = False, **options: Any) -> Any:
        """``reader`` at ``path``; with ``keep`` the value stays in ``extra`` too."""
        try:
            return reader(self.record, path, Consumed() if keep else self.consumed, **options)
        except values.ValueProblem as problem:
            raise self.refuse(".".join(str(p) for p in path), str(problem)) from None

    def money(self, *path: str | int, keep: bool = False) -> Money | None:
        return self.read(shapes.money, path, keep)  # type: ignore[no-any-return]

    def day(self, *path: str | int, not_after: date | None = None) -> date | None:
        return self.read(shapes.day, path, not_after=not_after)  # type: ignore[no-any-return]

    def code(self, *path: str | int, required: bool = False) -> str | None:
        return self.read(shapes.code, path, required=required)  # type: ignore[no-any-return]

    def text(self, *path: str | int) -> str | None:
        found: str | None = self.read(shapes.text, path)
        return _CONTROL_IN_TEXT.sub("", found) if found else found

    def number(self, *path: str | int, digits: int, scale: int) -> Decimal | None:
        return self.read(shapes.number, path, digits=digits, scale=scale)  # type: ignore[no-any-return]

    def items(self, *path: str | int) -> list[tuple[Path, Any]]:
        """The elements at ``path`` with their paths: a list's, or one object's (UBL sends one or many)."""
        value = shapes.at(self.record, path)
        if value is None:
            return []
        if isinstance(value, list):
            return [((*path, n), item) for n, item in enumerate(value)]
        if isinstance(value, Mapping):
            return [(path, value)]
        raise self.refuse(".".join(str(p) for p in path), f"is {values.described(value)}, not an object or a list")

    def object(self, value: Any, path: Path) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.refuse(
                ".".join(str(p) for p in path) or "the record", f"is {values.described(value)}, not an object"
            )
        return value

    @property
    def extra(self) -> Any:
        return shapes.residual(self.record, self.consumed)


def listed(entry: Any, not_after: date) -> Listed:
    """One list entry; ``not_after``: the latest date a bol invoice can carry.

    Its totals are read but stay in ``extra`` too: they are the invoice's totals only while its detail is not read.
    """
    reader = Reader(entry.get("invoiceId") if isinstance(entry, Mapping) else None, entry)
    entry = reader.object(entry, ())
    invoice_id = str(reader.code("invoiceId", required=True))
    json_offered, xlsx_offered = _offered(reader, "specificationMediaTypes")
    found = Listed(
        invoice_id=invoice_id,
        invoice_type=reader.code("invoiceType"),
        issue_date=reader.day("issueDate", not_after=not_after),
        period_start=reader.day("invoicePeriod", "startDate", not_after=not_after),
        period_end=reader.day("invoicePeriod", "endDate", not_after=not_after),
        total_excl_vat=reader.money("legalMonetaryTotal", "taxExclusiveAmount", keep=True),
        total_incl_vat=reader.money("legalMonetaryTotal", "taxInclusiveAmount", keep=True),
        open_amount=reader.money("openAmount"),
        json_offered=json_offered,
        xlsx_offered=xlsx_offered,
        extra=None,
        raw=entry,
    )
    return replace(found, extra=reader.extra)


def _offered(reader: Reader, name: str) -> tuple[bool | None, bool | None]:
    """Whether ``name.availableMediaTypes`` lists JSON, and xlsx (None when the entry does not say)."""
    media = shapes.at(reader.record, (name, "availableMediaTypes"))
    if media is None:
        return None, None
    if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
        raise reader.refuse(f"{name}.availableMediaTypes", f"is {values.described(media)}, not a list of media types")
    plain = {_plain_media(m) for m in media}
    return JSON_MEDIA in plain, XLSX_MEDIA in plain


def _plain_media(media: str) -> str:
    """A media type in its plain form: bol's versioned one (``application/vnd.retailer.v10+json``, ``...+
    openxmlformats-officedocument.spreadsheetml.sheet``) as ``application/json``, ``application/vnd.openxml...``."""
    kind, _, subtype = media.strip().lower().partition("/")
    if subtype.startswith("vnd.retailer.") and "+" in subtype:
        suffix = subtype.split("+", 1)[1]
        return f"{kind}/{suffix}" if suffix in _PLAIN_SUBTYPES else f"{kind}/vnd.{suffix}"
    return f"{kind}/{subtype}"


_PLAIN_SUBTYPES = frozenset({"json", "pdf", "xml", "csv"})


def detail(invoice_id: str, body: Any, not_after: date) -> Detail:
    """The figures of the UBL detail of ``invoice_id``."""
    reader = Reader(invoice_id, body, prefix="detail.")
    reader.object(body, ())
    reader.code("ID")
    monetary = ("LegalMonetaryTotal",)
    excl = reader.money(*monetary, "TaxExclusiveAmount") or reader.money(*monetary, "LineExtensionAmount")
    total_vat: Decimal | None = None
    rates: dict[Decimal | None, tuple[Decimal, Decimal]] = {}
    for path, tax_total in reader.items("TaxTotal"):
        reader.object(tax_total, path)
        amount = reader.money(*path, "TaxAmount")
        if amount is not None:
            total_vat = (total_vat or ZERO) + amount.amount
        for sub_path, subtotal in reader.items(*path, "TaxSubtotal"):
            reader.object(subtotal, sub_path)
            rate = reader.number(*sub_path, "TaxCategory", "Percent", digits=5, scale=2)
            if rate is None:
                raise reader.refuse(".".join(map(str, (*sub_path, "TaxCategory", "Percent"))), "is missing")
            taxable, vat = reader.money(*sub_path, "TaxableAmount"), reader.money(*sub_path, "TaxAmount")
            known = rates.get(rate, (ZERO, ZERO))
            rates[rate] = (known[0] + _amount(taxable), known[1] + _amount(vat))
    by_rate = rates or None
    if total_vat is None and by_rate is not None:
        total_vat = sum((vat for _, vat in by_rate.values()), ZERO)
    currency = reader.code("DocumentCurrencyCode")
    found = Detail(
        issue_date=reader.day("IssueDate", not_after=not_after),
        period_start=reader.day("InvoicePeriod", "StartDate", not_after=not_after),
        period_end=reader.day("InvoicePeriod", "EndDate", not_after=not_after),
        currency=currency,
        total_excl_vat=excl,
        total_incl_vat=reader.money(*monetary, "TaxInclusiveAmount"),
        total_vat=Money(total_vat, currency) if total_vat is not None else None,
        by_rate=by_rate,
        extra=None,
    )
    return replace(found, extra=reader.extra)


def _amount(money: Money | None) -> Decimal:
    return money.amount if money is not None else ZERO


def lines(invoice_id: str, raw_lines: Sequence[Any], not_after: datetime) -> list[Line]:
    """The specification lines of ``invoice_id`` as rows, each with its stable ``line_key`` (:func:`line_keys`)."""
    read = [_line(invoice_id, number, raw, not_after) for number, raw in enumerate(raw_lines, start=1)]
    for key, line in zip(line_keys(read), read, strict=True):
        line.row["line_key"] = key
    return read


def _line(invoice_id: str, number: int, raw: Any, not_after: datetime) -> Line:
    reader = Reader(
        invoice_id, raw, where=f"specification line {number}", prefix=f"invoiceSpecification[{number - 1}]."
    )
    reader.object(raw, ())
    amount = reader.money("lineExtensionAmount")
    if amount is None:
        raise reader.refuse("lineExtensionAmount", "is missing (the amount excluding VAT of the line)")
    vat: Money | None = None
    for path, tax_total in reader.items("taxTotal"):
        reader.object(tax_total, path)
        found = reader.money(*path, "TaxAmount")
        if found is not None:
            vat = Money((vat.amount if vat else ZERO) + found.amount, found.currency)
    category = ("item", "ClassifiedTaxCategory")
    first = (*category, 0) if isinstance(shapes.at(raw, category), list) else category
    row: dict[str, Any] = {
        "line_ref": reader.code("invoiceLineRef"),
        "bol_line_id": reader.code("id"),
        "charge_type": reader.code("item", "Name"),
        "description": reader.text("item", "Description"),
        "quantity": reader.number("invoicedQuantity", digits=12, scale=3),
        "amount_excl_vat": amount.amount,
        "vat_rate": reader.number(*first, "Percent", digits=5, scale=2),
        "vat_category": reader.code(*first, "ID"),
        "vat_amount": vat.amount if vat else None,
        "currency": _one_currency(reader, amount, vat),
        "transaction_at": None,
        "transaction_date": None,
        **dict.fromkeys(LINE_LINKS.values()),
    }
    _links(reader, row, not_after)
    return Line(row, raw, reader.extra)


def _one_currency(reader: Reader, *amounts: Money | None) -> str | None:
    named = {m.currency for m in amounts if m is not None and m.currency is not None}
    if len(named) > 1:
        raise reader.refuse("currencyID", f"differs between the line's amounts ({', '.join(sorted(named))})")
    return named.pop() if named else None


def _links(reader: Reader, row: dict[str, Any], not_after: datetime) -> None:
    """The order, item, EAN, shipment, return and moment a line names (``AdditionalItemProperty``)."""
    for path, prop in reader.items("item", "AdditionalItemProperty"):
        reader.object(prop, path)
        name, _ = shapes.unwrapped(prop, ("Name",))
        if not isinstance(name, str):
            continue
        known = name.strip().lower()
        if known == TRANSACTION_DATE:
            _transaction(reader, path, row, not_after)
        elif known in LINE_LINKS:
            column, value = LINE_LINKS[known], reader.code(*path, "Value")
            if row[column] is not None and value is not None and row[column] != value:
                raise reader.refuse(".".join(map(str, path)), f"names a second {name} ({value!r})")
            row[column] = row[column] if value is None else value
        else:
            continue
        reader.consumed.add((*path, "Name"))


def _transaction(reader: Reader, path: Path, row: dict[str, Any], not_after: datetime) -> None:
    """``transactionDate``: a moment (with or without time) or a date."""
    value, where = shapes.unwrapped(reader.record, (*path, "Value"))
    if value is None or value == "":
        return
    name = ".".join(map(str, where))
    try:
        if shapes.is_day_text(value):
            row["transaction_date"] = shapes.day(reader.record, (*path, "Value"), reader.consumed)
            return
        moment = shapes.instant(value)
    except values.ValueProblem as problem:
        raise reader.refuse(name, str(problem)) from None
    if moment > not_after or moment < values.EARLIEST:
        raise reader.refuse(name, f"{values.shown(value)} is not a moment of a bol invoice")
    reader.consumed.add(where)
    row["transaction_at"], row["transaction_date"] = moment, moment.astimezone(AMSTERDAM).date()


def line_keys(read: Sequence[Line]) -> list[str]:
    """A key per line that a later read of the same specification gives again.

    ``invoiceLineRef`` when every line has one and no two share it; otherwise ``h:`` and a hash of the line's
    JSON, with ``:n`` for the n-th (n > 1) line of identical JSON (such lines are interchangeable).
    """
    refs = [line.row["line_ref"] for line in read]
    if all(refs) and len(set(refs)) == len(refs):
        return [str(ref) for ref in refs]
    seen: dict[str, int] = {}
    keys = []
    for line in read:
        digest = hashlib.sha256(canonical(line.raw).encode("utf-8")).hexdigest()[:32]
        seen[digest] = seen.get(digest, 0) + 1
        keys.append(f"h:{digest}" + (f":{seen[digest]}" if seen[digest] > 1 else ""))
    return keys


def canonical(value: Any) -> str:
    """JSON text that is the same for the same JSON value (sorted keys, ASCII, no spaces)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=True, default=str)


def rates_json(by_rate: Mapping[Decimal | None, tuple[Decimal, Decimal]] | None) -> str | None:
    """``{"0.00": {"total_excl_vat": .., "vat": ..}, "21.00": ...}`` (canonical JSON), or None."""
    if by_rate is None:
        return None
    return canonical(
        {
            ("none" if rate is None else f"{rate:.2f}"): {"total_excl_vat": float(excl), "vat": float(vat)}
            for rate, (excl, vat) in by_rate.items()
        }
    )


def sums_by_rate(read: Iterable[Line]) -> dict[Decimal | None, tuple[Decimal, Decimal]]:
    """VAT rate -> (amount excluding VAT, VAT) of the lines."""
    sums: dict[Decimal | None, tuple[Decimal, Decimal]] = {}
    for line in read:
        excl, vat = sums.get(line.rate, (ZERO, ZERO))
        sums[line.rate] = (excl + line.amount, vat + line.vat)
    return sums
