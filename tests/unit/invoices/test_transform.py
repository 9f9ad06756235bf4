"""What one invoice becomes: reconciled (row and lines), unbalanced or refused (row, lines held), without JSON
specification (row from the list), or refused whole (held)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bolsync.invoices import documents
from bolsync.invoices.transform import assess, invoice_frame, line_frame
from tests.unit.invoices import bol_shapes as bol

LISTED_AT = datetime(2026, 3, 2, 8, 5, tzinfo=UTC)


def entry(**changes: object) -> documents.Listed:
    return documents.listed(bol.list_entry(**changes), date(2027, 1, 1))


def test_a_specification_that_adds_up_lands_whole() -> None:
    found = assess(entry(), bol.document(), LISTED_AT)
    assert (found.status, found.held, len(found.lines), found.landed_whole) == ("reconciled", None, 6, True)
    row = found.row
    assert row is not None
    assert (row["total_excl_vat"], row["total_vat"], row["total_incl_vat"]) == (
        Decimal("-26.85"),
        Decimal("1.94"),
        Decimal("-24.91"),
    )
    assert (row["specification_read"], row["reconciled"], row["line_count"]) == (True, True, 6)
    assert row["read_at"] == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert (row["open_amount"], row["open_amount_at"]) == (Decimal("-24.91"), LISTED_AT)
    extra = json.loads(row["extra"])
    assert set(extra) == {"list", "detail"}
    assert extra["list"]["legalMonetaryTotal"]["payableAmount"] == {"amount": -24.91, "currencyID": "EUR"}
    assert "openAmount" not in extra["list"]
    frame = invoice_frame("42", [row])
    assert frame.loc[0, "issue_date"] == datetime(2026, 3, 1)
    lines = line_frame("42", [(bol.INVOICE_ID, found.lines)])
    assert list(lines["amount_excl_vat"]) == [-59.98, 7.39, 4.25, 3.9, 19.99, -2.4]


def test_lines_that_do_not_add_up_are_held_with_the_invoice_recorded() -> None:
    lines = bol.lines()
    lines[4]["lineExtensionAmount"] = bol.amount(18.99)  # the 0 % lines 1.00 too low
    found = assess(entry(), bol.document(lines=lines), LISTED_AT)
    assert (found.status, found.lines, found.landed_whole) == ("unbalanced", [], False)
    assert found.row is not None
    assert found.row["specification_status"] == "unbalanced"
    assert found.held is not None
    assert found.held.key == bol.INVOICE_ID
    assert found.held.reason == (
        f"invoice {bol.INVOICE_ID}: its 6 specification lines do not add up to its totals (within 0.01 per VAT rate): "
        "VAT rate 0.00 %: amount excluding VAT: invoice -36.09, lines -37.09, off by -1.00; "
        "total excluding VAT: invoice -26.85, lines -27.85, off by -1.00"
    )
    raw = json.loads(found.held.raw_json)
    assert set(raw) == {"listed", "detail", "specification"}
    assert len(raw["specification"]) == 6


def test_a_line_that_cannot_be_right_holds_the_lines_and_records_the_invoice() -> None:
    lines = bol.lines()
    lines[2]["lineExtensionAmount"] = bol.amount(4.255)
    found = assess(entry(), bol.document(lines=lines), LISTED_AT)
    assert (found.status, found.lines) == ("refused", [])
    assert found.row is not None
    assert found.row["specification_status"] == "refused"
    assert found.held is not None
    assert found.held.field == "invoiceSpecification[2].lineExtensionAmount"
    assert "fractions of a cent" in found.held.reason


def test_an_invoice_whose_detail_cannot_be_right_is_held_whole() -> None:
    found = assess(entry(), bol.document(detail=bol.detail(IssueDate="soon")), LISTED_AT)
    assert (found.status, found.row, found.lines) == (None, None, [])
    assert found.held is not None
    assert found.held.field == "detail.IssueDate"


@pytest.mark.parametrize("status", ["xlsx_only", "missing"])
def test_an_invoice_without_json_specification_is_recorded_from_its_list_entry(status: str) -> None:
    document = {"invoiceId": bol.INVOICE_ID, "specification": status, "read_at": "2026-03-02T08:00:00+00:00"}
    found = assess(entry(), document, LISTED_AT)
    assert (found.status, found.held, found.lines, found.landed_whole) == (status, None, [], True)
    row = found.row
    assert row is not None
    assert (row["issue_date"], row["period_start"], row["period_end"], row["currency"]) == (
        date(2026, 3, 1),
        date(2026, 2, 16),
        date(2026, 2, 28),
        "EUR",
    )
    assert (row["total_excl_vat"], row["total_vat"], row["total_incl_vat"], row["vat_by_rate"]) == (
        Decimal("-26.85"),
        Decimal("1.94"),
        Decimal("-24.91"),
        None,
    )
    assert (row["specification_read"], row["reconciled"], row["line_count"]) == (False, False, None)


def test_a_line_in_another_currency_than_the_invoice_is_refused() -> None:
    lines = bol.lines()
    lines[0]["lineExtensionAmount"] = {"value": -59.98, "currencyID": "USD"}
    lines[0]["taxTotal"] = {"TaxAmount": {"value": 0, "currencyID": "USD"}}
    found = assess(entry(), bol.document(lines=lines), LISTED_AT)
    assert found.status == "refused"
    assert found.held is not None
    assert "currency USD is not the invoice's (EUR)" in found.held.reason
