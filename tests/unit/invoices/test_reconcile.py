"""Reconciliation per VAT rate against hand-computed figures (``bol_shapes``): within a cent it adds up, beyond it
the difference is named by rate and figure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bolsync.invoices import documents
from bolsync.invoices.reconcile import reconcile
from tests.unit.invoices import bol_shapes as bol

D = Decimal
#: The invoice's own figures: 21 % 9.24 / 1.94, 0 % -36.09 / 0.00; totals -26.85 and 1.94.
BY_RATE = {D("21"): (D("9.24"), D("1.94")), D("0"): (D("-36.09"), D("0"))}


def sums(lines: list[dict] | None = None) -> dict:
    read = documents.lines(bol.INVOICE_ID, lines or bol.lines(), datetime(2027, 1, 1, tzinfo=UTC))
    return documents.sums_by_rate(read)


def test_the_hand_computed_invoice_adds_up() -> None:
    assert sums() == {D("0.00"): (D("-36.09"), D("0.00")), D("21.00"): (D("9.24"), D("1.94"))}
    assert reconcile(sums(), D("-26.85"), D("1.94"), BY_RATE).balanced


@pytest.mark.parametrize(("shift", "balanced"), [("0.01", True), ("-0.01", True), ("0.02", False), ("0.05", False)])
def test_a_rate_may_be_a_cent_off_and_no_more(shift: str, balanced: bool) -> None:
    lines = bol.lines()
    lines[1]["lineExtensionAmount"] = bol.amount(float(D("7.39") + D(shift)))
    totals = D("-26.85") + D(shift)  # the totals agree, the 21 % subtotal does not
    check = reconcile(sums(lines), totals, D("1.94"), BY_RATE)
    assert check.balanced is balanced
    if not balanced:
        assert [d.what for d in check.differences] == ["VAT rate 21.00 %: amount excluding VAT"]
        assert check.describe() == (
            f"VAT rate 21.00 %: amount excluding VAT: invoice 9.24, lines {D('9.24') + D(shift)}, off by +{shift}"
        )


def test_vat_off_at_one_rate_is_named() -> None:
    lines = bol.lines()
    lines[5]["taxTotal"] = {"TaxAmount": bol.amount(-0.47)}  # -0.50 expected: 3 cents
    check = reconcile(sums(lines), D("-26.85"), D("1.94"), BY_RATE)
    assert [d.what for d in check.differences] == ["VAT rate 21.00 %: VAT", "total VAT"]
    assert check.differences[0].lines == D("1.97")


def test_a_rate_the_invoice_does_not_name_counts_against_zero() -> None:
    lines = [*bol.lines(), bol.line(7, ("STOCK", "", None, "8712345678920", None, 10, 0.5, 9.0, "AA", 0.05))]
    check = reconcile(sums(lines), D("-26.35"), D("1.99"), BY_RATE)
    assert [d.describe() for d in check.differences] == [
        "VAT rate 9.00 %: amount excluding VAT: invoice 0.00, lines 0.50, off by +0.50",
        "VAT rate 9.00 %: VAT: invoice 0.00, lines 0.05, off by +0.05",
    ]


def test_without_subtotals_the_totals_alone_are_checked() -> None:
    assert reconcile(sums(), D("-26.85"), D("1.94"), None).balanced
    check = reconcile(sums(), D("-26.84"), D("1.96"), None)
    assert [d.what for d in check.differences] == ["total VAT"]  # -26.84 is within a cent, 1.96 is not


def test_totals_may_be_a_cent_off_per_rate() -> None:
    assert reconcile(sums(), D("-26.83"), D("1.94"), BY_RATE).balanced  # two rates: two cents
    assert not reconcile(sums(), D("-26.82"), D("1.94"), BY_RATE).balanced


def test_an_invoice_naming_no_total_cannot_be_reconciled() -> None:
    check = reconcile(sums(), None, None, None)
    assert check.describe() == "total excluding VAT: invoice none, lines -26.85; total VAT: invoice none, lines 1.94"
