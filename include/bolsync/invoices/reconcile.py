"""Whether an invoice's specification lines add up to its totals (pure, exact decimal arithmetic).

Per VAT rate the lines' amounts excluding VAT must match the invoice's taxable amount and their VAT its VAT
(``TaxTotal.TaxSubtotal``), each within :data:`TOLERANCE`; a rate only one side names counts as zero on the
other. The invoice's total excluding VAT and its total VAT must match the lines' too, within the tolerance of
each rate (rounding per rate adds up). An invoice whose detail gives no subtotals is checked on its totals alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

#: How far a sum of lines may be from the invoice's figure: one cent, as bol rounds per line.
TOLERANCE = Decimal("0.01")
ZERO = Decimal(0)
RateSums = Mapping[Decimal | None, tuple[Decimal, Decimal]]


@dataclass(frozen=True)
class Difference:
    """One figure the lines do not match."""

    what: str
    invoice: Decimal | None
    lines: Decimal

    def describe(self) -> str:
        invoice = "none" if self.invoice is None else f"{self.invoice:.2f}"
        gap = "" if self.invoice is None else f", off by {self.lines - self.invoice:+.2f}"
        return f"{self.what}: invoice {invoice}, lines {self.lines:.2f}{gap}"


@dataclass(frozen=True)
class Reconciliation:
    """The outcome: the figures the lines do not match (none: the invoice is reconciled)."""

    differences: tuple[Difference, ...]

    @property
    def balanced(self) -> bool:
        return not self.differences

    def describe(self) -> str:
        return "; ".join(d.describe() for d in self.differences)


def reconcile(
    lines: RateSums, total_excl_vat: Decimal | None, total_vat: Decimal | None, by_rate: RateSums | None
) -> Reconciliation:
    """Compare the lines' sums per VAT rate (``lines``) with the invoice's totals and, when given, its sums per
    rate (``by_rate``)."""
    differences: list[Difference] = []
    rates = 1
    if by_rate is not None:
        named = sorted({*lines, *by_rate}, key=lambda rate: (rate is None, -(rate or ZERO)))
        rates = max(1, len(named))
        for rate in named:
            invoice_excl, invoice_vat = by_rate.get(rate, (ZERO, ZERO))
            line_excl, line_vat = lines.get(rate, (ZERO, ZERO))
            label = "lines without a VAT rate" if rate is None else f"VAT rate {rate:.2f} %"
            _compare(differences, f"{label}: amount excluding VAT", invoice_excl, line_excl, TOLERANCE)
            _compare(differences, f"{label}: VAT", invoice_vat, line_vat, TOLERANCE)
    excl = sum((e for e, _ in lines.values()), ZERO)
    vat = sum((v for _, v in lines.values()), ZERO)
    _compare(differences, "total excluding VAT", total_excl_vat, excl, TOLERANCE * rates)
    _compare(differences, "total VAT", total_vat, vat, TOLERANCE * rates)
    return Reconciliation(tuple(differences))


def _compare(found: list[Difference], what: str, invoice: Decimal | None, lines: Decimal, tolerance: Decimal) -> None:
    if invoice is None or abs(lines - invoice) > tolerance:
        found.append(Difference(what, invoice, lines))
