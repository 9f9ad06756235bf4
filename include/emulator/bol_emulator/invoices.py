"""Invoices: what bol charges and credits a retailer, line by line, per half-month period.

Every business event leaves charges (amounts excluding VAT, with a VAT rate), seen from bol's side: positive
= the retailer owes bol (commission, labels, pick & pack, storage), negative = bol owes the retailer (turnover
collected from customers). The history issues one ALL_IN_ONE invoice per half month (1st-15th, 16th-end, bol's
"twice a month" rhythm) on the day after the period, holding every charge of the period not invoiced before,
the period's storage of the FBB stock and one correction line; ``issue_invoice`` issues one right away.

Charge types (bol's invoice line types), their link and VAT:

========================== ===================================== ================ =====
type                       for                                   tied to          VAT %
========================== ===================================== ================ =====
TURNOVER                   units shipped, what the customer paid order item, EAN     0
COMMISSION                 units shipped, the order's estimated  order item, EAN    21
                           ``commission`` pro rata
PICK_PACK                  FBB units shipped                     order item, EAN    21
SHIPMENT_LABEL             a bol label of a DHL parcel           order (+ item)     21
SHIPMENT_LABEL_POST        a bol label of a PostNL parcel        order (+ item)      0
PLAZA_RETURN_SHIPPING_LABEL a return sent with bol's return label order, EAN       21
CORRECTION_TURNOVER        refund of accepted returned units     order (item), EAN   0
CORRECTION_COMMISSION      commission given back for them        order (item), EAN  21
STOCK                      storage of FBB stock per period       EAN                21
CORRECTION_CORRECTION      a manual correction of a commission   order item, EAN    21
========================== ===================================== ================ =====

A label line names the order item only when its parcel held one item; lines of orders older than the
history name no order item.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bol_emulator.business_ids import BusinessIds
from bol_emulator.inventory import StockItem
from bol_emulator.model import AMSTERDAM, CENT, money
from bol_emulator.returns import REFUNDED, ProcessingResult, Return, ReturnItem
from bol_emulator.shipments import Shipment

#: (VAT rate, UBL tax category): standard, exempt (PostNL), outside the scope of VAT (turnover).
STANDARD = (Decimal("21"), "S")
EXEMPT = (Decimal("0"), "E")
OUTSIDE = (Decimal("0"), "O")
LABEL_POST = Decimal("3.90")
LABEL_OTHER = Decimal("4.25")
RETURN_LABEL = Decimal("4.60")
STORAGE_PER_UNIT = Decimal("0.05")
DESCRIPTIONS = {
    "TURNOVER": "Omzet",
    "COMMISSION": "Commissie",
    "PICK_PACK": "Pick & pack",
    "SHIPMENT_LABEL": "Verzendlabel",
    "SHIPMENT_LABEL_POST": "Verzendlabel PostNL",
    "PLAZA_RETURN_SHIPPING_LABEL": "Retourlabel",
    "CORRECTION_TURNOVER": "Correctie omzet (retour)",
    "CORRECTION_COMMISSION": "Correctie commissie (retour)",
    "STOCK": "Opslagkosten LVB",
    "CORRECTION_CORRECTION": "Correctie commissie",
}


@dataclass(frozen=True)
class Links:
    """What an invoice line refers to."""

    order_id: str | None = None
    order_item_id: str | None = None
    ean: str | None = None
    shipment_id: str | None = None
    rma_id: str | None = None


@dataclass
class Charge:
    """One invoice line to be: ``amount`` excludes VAT; ``invoice_id`` is set once it is invoiced."""

    charge_type: str
    at: datetime
    amount: Decimal
    tax: tuple[Decimal, str]
    quantity: int
    links: Links
    invoice_id: str | None = None
    line_ref: str | None = None

    @property
    def vat_rate(self) -> Decimal:
        return self.tax[0]

    @property
    def tax_category(self) -> str:
        return self.tax[1]

    @property
    def vat(self) -> Decimal:
        return money(self.amount * self.vat_rate / 100) + 0  # + 0: no negative zero

    @property
    def description(self) -> str:
        return DESCRIPTIONS.get(self.charge_type, self.charge_type)

    @property
    def bol_line_id(self) -> str:
        """bol's line ``id``: ``<order id>#<EAN>#<line type>`` (not unique)."""
        return f"{self.links.order_id or ''}#{self.links.ean or ''}#{self.charge_type}"


@dataclass
class Invoice:
    """An issued invoice and its lines (in specification order)."""

    invoice_id: str
    issue_date: date
    period_start: date
    period_end: date
    lines: list[Charge] = field(default_factory=list)
    invoice_type: str = "ALL_IN_ONE"

    @property
    def total_excl_vat(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def total_vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal(0))

    def by_rate(self) -> dict[tuple[Decimal, str], tuple[Decimal, Decimal]]:
        """(rate, tax category) -> (amount excluding VAT, VAT) of the lines."""
        totals: dict[tuple[Decimal, str], tuple[Decimal, Decimal]] = {}
        for line in self.lines:
            excl, vat = totals.get((line.vat_rate, line.tax_category), (Decimal(0), Decimal(0)))
            totals[(line.vat_rate, line.tax_category)] = (excl + line.amount, vat + line.vat)
        return dict(sorted(totals.items(), key=lambda kv: (-kv[0][0], kv[0][1])))


def period_of(day: date) -> tuple[date, date]:
    """The half-month invoice period holding ``day``."""
    if day.day <= 15:
        return day.replace(day=1), day.replace(day=15)
    return day.replace(day=16), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def start_of(day: date) -> datetime:
    """Midnight in Amsterdam at the start of ``day``."""
    return datetime.combine(day, time(), AMSTERDAM)


def local_day(moment: datetime) -> date:
    return moment.astimezone(AMSTERDAM).date()


def pro_rata(amount: Decimal, units: int, of: int) -> Decimal:
    return money(amount * units / of) if of else Decimal(0)


def shipment_charges(shipment: Shipment, pick_pack: dict[str, Decimal]) -> list[Charge]:
    """Turnover, commission and pick & pack per shipped item, plus the bol label of the parcel."""
    charges = []
    order_id, at = shipment.order.order_id, shipment.shipped_at
    for part in shipment.items:
        item, units = part.item, part.quantity
        links = Links(order_id, item.order_item_id, item.ean, shipment.shipment_id)
        turnover = -pro_rata(item.total_price, units, item.quantity)
        charges.append(Charge("TURNOVER", at, turnover, OUTSIDE, units, links))
        charges.append(
            Charge("COMMISSION", at, pro_rata(item.commission, units, item.quantity), STANDARD, units, links)
        )
        if item.fulfilment_method == "FBB":
            rate = pick_pack.get(item.ean, Decimal("1.85"))
            charges.append(Charge("PICK_PACK", at, money(rate * units), STANDARD, units, links))
    if shipment.bol_label:
        post = shipment.transport.transporter_code == "TNT"
        single = shipment.items[0].item if len(shipment.items) == 1 else None
        links = Links(
            order_id, single.order_item_id if single else None, single.ean if single else None, shipment.shipment_id
        )
        if post:
            charges.append(Charge("SHIPMENT_LABEL_POST", at, LABEL_POST, EXEMPT, 1, links))
        else:
            charges.append(Charge("SHIPMENT_LABEL", at, LABEL_OTHER, STANDARD, 1, links))
    return charges


def _return_links(item: ReturnItem) -> Links:
    order_item_id = item.item.order_item_id if item.item else None
    return Links(item.order_id, order_item_id, item.ean, rma_id=item.rma_id)


def return_label_charge(item: ReturnItem, ret: Return) -> list[Charge]:
    """The cost of bol's return label, charged when the customer registers the return with it."""
    if not item.return_label:
        return []
    return [Charge("PLAZA_RETURN_SHIPPING_LABEL", ret.registered_at, RETURN_LABEL, STANDARD, 1, _return_links(item))]


def processing_charges(item: ReturnItem, result: ProcessingResult) -> list[Charge]:
    """The refund (turnover back to the customer) and the commission bol gives back for accepted units."""
    if result.result != "ACCEPTED" or result.handling_result not in REFUNDED:
        return []
    units, links = result.quantity, _return_links(item)
    if item.item is not None:
        paid = pro_rata(item.item.total_price, units, item.item.quantity)
        commission = pro_rata(item.item.commission, units, item.item.quantity)
    else:
        paid = money(Decimal(str(item.unit_price)) * units)
        commission = money(paid * Decimal("0.12"))
    at = result.processed_at
    return [
        Charge("CORRECTION_TURNOVER", at, paid, OUTSIDE, units, links),
        Charge("CORRECTION_COMMISSION", at, -commission, STANDARD, units, links),
    ]


def storage_charges(stock: dict[str, StockItem], at: datetime) -> list[Charge]:
    """Storage of the regular FBB stock over one period."""
    return [
        Charge("STOCK", at, money(STORAGE_PER_UNIT * item.regular), STANDARD, item.regular, Links(ean=item.ean))
        for item in stock.values()
        if item.regular
    ]


def correction(rng: random.Random, lines: list[Charge], at: datetime) -> list[Charge]:
    """A manual correction of one invoiced commission (10 % of it back), if the lines hold a commission."""
    commissions = [line for line in lines if line.charge_type == "COMMISSION" and line.amount >= CENT * 10]
    if not commissions:
        return []
    base = rng.choice(commissions)
    return [Charge("CORRECTION_CORRECTION", at, -money(base.amount / 10), STANDARD, 1, base.links)]


def issue(
    rng: random.Random,
    ids: BusinessIds,
    open_charges: list[Charge],
    period: tuple[date, date],
    issue_date: date,
    until: datetime,
    stock: dict[str, StockItem],
) -> Invoice | None:
    """An invoice of the open charges up to ``until`` (exclusive) plus storage and a correction; None if there is
    nothing to invoice. The invoiced charges get the invoice id and a line reference."""
    due = [charge for charge in open_charges if charge.invoice_id is None and charge.at < until]
    if not due:
        return None
    closing = min(until, start_of(period[1] + timedelta(days=1))) - timedelta(seconds=1)
    lines = sorted(due, key=lambda c: c.at) + storage_charges(stock, closing)
    lines += correction(rng, lines, closing)
    invoice = Invoice(ids.make(rng, "45", 11), issue_date, period[0], period[1], lines)
    for number, line in enumerate(lines, start=1):
        line.invoice_id = invoice.invoice_id
        line.line_ref = f"{invoice.invoice_id}-{number:05d}"
    return invoice
