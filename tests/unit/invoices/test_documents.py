"""An invoice's list entry, UBL detail and specification lines, in the shapes third-party clients read: typed
values, what is not mapped kept in ``extra``, stable line keys, and refusals that name the invoice, line and
field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bolsync.invoices import documents
from bolsync.invoices.shapes import Money
from bolsync.runs.quarantine import InvalidRecord
from tests.unit.invoices import bol_shapes as bol

LATEST = date(2027, 1, 1)
LATEST_MOMENT = datetime(2027, 1, 1, tzinfo=UTC)
LINE_2 = "invoiceSpecification[1]"
#: A captured ``GET /retailer/invoices`` answer (123lens/bol-retailer-api tests/Mocks/200-get-all-invoices.json):
#: the issue date in epoch seconds, the period in milliseconds.
CAPTURED_ENTRY = {
    "invoiceId": "4500022543921",
    "invoiceMediaTypes": {"availableMediaTypes": ["application/json", "application/xml", "application/pdf"]},
    "invoiceType": "ALL_IN_ONE",
    "issueDate": 1525125600,
    "invoicePeriod": {"endDate": 1556575200000, "startDate": 1554069600000},
    "legalMonetaryTotal": {
        "lineExtensionAmount": {"amount": -1336.30, "currencyID": "EUR"},
        "payableAmount": {"amount": -1336.30, "currencyID": "EUR"},
        "taxExclusiveAmount": {"amount": -1290.66, "currencyID": "EUR"},
        "taxInclusiveAmount": {"amount": -1290.66, "currencyID": "EUR"},
    },
    "specificationMediaTypes": {
        "availableMediaTypes": [
            "application/json",
            "application/xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ]
    },
}


def test_a_captured_list_entry() -> None:
    entry = documents.listed(CAPTURED_ENTRY, LATEST)
    assert (entry.invoice_id, entry.invoice_type, entry.issue_date) == ("4500022543921", "ALL_IN_ONE", date(2018, 5, 1))
    assert (entry.period_start, entry.period_end) == (date(2019, 4, 1), date(2019, 4, 30))
    assert entry.total_excl_vat == Money(Decimal("-1290.66"), "EUR")
    assert entry.total_incl_vat == Money(Decimal("-1290.66"), "EUR")
    assert (entry.json_offered, entry.xlsx_offered, entry.open_amount) == (True, True, None)
    assert set(entry.extra) == {"invoiceMediaTypes", "legalMonetaryTotal", "specificationMediaTypes"}


@pytest.mark.parametrize(
    ("media", "offered"),
    [
        (["application/vnd.retailer.v10+json"], (True, False)),
        ([bol.XLSX], (False, True)),
        (["application/vnd.retailer.v10+openxmlformats-officedocument.spreadsheetml.sheet"], (False, True)),
        ([], (False, False)),
    ],
)
def test_the_specification_media_the_list_offers(media: list[str], offered: tuple[bool, bool]) -> None:
    entry = documents.listed(bol.list_entry(specificationMediaTypes={"availableMediaTypes": media}), LATEST)
    assert (entry.json_offered, entry.xlsx_offered) == offered


def test_an_entry_that_does_not_say_which_media_it_offers() -> None:
    raw = bol.list_entry()
    del raw["specificationMediaTypes"]
    assert documents.listed(raw, LATEST).json_offered is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"invoiceId": None}, "invoiceId"),
        ({"issueDate": "yesterday"}, "issueDate"),
        ({"openAmount": "a lot"}, "openAmount"),
        ({"specificationMediaTypes": {"availableMediaTypes": "application/json"}}, "specificationMediaTypes"),
    ],
)
def test_an_entry_that_cannot_be_right_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRecord) as refused:
        documents.listed(bol.list_entry(**changes), LATEST)
    assert refused.value.field.startswith(field)
    assert "invoice" in str(refused.value)


def test_the_detail_totals_and_vat_per_rate() -> None:
    detail = documents.detail(bol.INVOICE_ID, bol.detail(), LATEST)
    assert (detail.issue_date, detail.period_start, detail.period_end) == (
        date(2026, 3, 1),
        date(2026, 2, 16),
        date(2026, 2, 28),
    )
    assert detail.currency == "EUR"
    assert detail.total_excl_vat == Money(Decimal("-26.85"), "EUR")
    assert detail.total_vat == Money(Decimal("1.94"), "EUR")
    assert detail.by_rate == {
        Decimal("21.00"): (Decimal("9.24"), Decimal("1.94")),
        Decimal("0.00"): (Decimal("-36.09"), Decimal("0.00")),  # E and O: one rate
    }
    assert detail.extra["InvoiceTypeCode"] == {"value": "380", "listID": "UNCL1001"}
    assert detail.extra["TaxTotal"]["TaxSubtotal"][0] == {"TaxCategory": {"ID": "S"}}


def test_a_detail_with_tax_totals_as_a_list_and_one_subtotal_as_an_object() -> None:
    body = bol.detail(
        TaxTotal=[
            {
                "TaxAmount": bol.amount(1.0),
                "TaxSubtotal": {
                    "TaxableAmount": bol.amount(4.76),
                    "TaxAmount": bol.amount(1.0),
                    "TaxCategory": {"Percent": "21.0"},
                },
            },
            {"TaxAmount": bol.amount(0.94)},
        ]
    )
    detail = documents.detail(bol.INVOICE_ID, body, LATEST)
    assert detail.total_vat == Money(Decimal("1.94"), "EUR")
    assert detail.by_rate == {Decimal("21.00"): (Decimal("4.76"), Decimal("1.00"))}


def test_a_detail_without_subtotals_has_no_rates_and_its_vat_from_the_totals() -> None:
    body = bol.detail()
    del body["TaxTotal"]
    detail = documents.detail(bol.INVOICE_ID, body, LATEST)
    assert (detail.by_rate, detail.total_vat) == (None, None)


def test_a_subtotal_without_a_rate_is_refused() -> None:
    body = bol.detail()
    del body["TaxTotal"]["TaxSubtotal"][0]["TaxCategory"]["Percent"]
    with pytest.raises(InvalidRecord, match=r"TaxSubtotal\.0\.TaxCategory\.Percent is missing"):
        documents.detail(bol.INVOICE_ID, body, LATEST)


def test_specification_lines_and_their_keys() -> None:
    read = documents.lines(bol.INVOICE_ID, bol.lines(), LATEST_MOMENT)
    first = read[0].row
    assert first["line_key"] == f"{bol.INVOICE_ID}-00001"
    assert (first["charge_type"], first["order_id"], first["order_item_id"], first["ean"]) == (
        "TURNOVER",
        "O1",
        "I1",
        "8712345678906",
    )
    assert (first["quantity"], first["amount_excl_vat"], first["vat_rate"], first["vat_amount"]) == (
        Decimal("2.000"),
        Decimal("-59.98"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert first["transaction_at"] == datetime(2026, 2, 20, 13, 3, tzinfo=UTC)
    assert first["transaction_date"] == date(2026, 2, 20)
    assert read[4].row["rma_id"] == "R1"
    assert read[0].extra == {
        "invoicedQuantity": {"unitCode": "C62"},
        "price": {"PriceAmount": bol.amount(-29.99), "BaseQuantity": {"value": 1, "unitCode": "C62"}},
        "item": {"ClassifiedTaxCategory": [{"TaxScheme": {"ID": {"value": "VAT"}}}]},
    }


def test_other_line_shapes_read_the_same() -> None:
    line = bol.line(2)
    line["item"]["ClassifiedTaxCategory"] = {"ID": "S", "Percent": "21"}
    line["taxTotal"] = [{"TaxAmount": {"value": "1.00"}}, {"TaxAmount": 0.55}]
    line["item"]["AdditionalItemProperty"] = [
        {"Name": "ORDERID", "Value": "O1"},
        {"Name": {"value": "TransactionDate"}, "Value": {"value": "2026-02-20"}},
        {"Name": {"value": "shipmentId"}, "Value": {"value": 123456}},
        {"Name": {"value": "fulfilmentMethod"}, "Value": {"value": "FBB"}},
    ]
    row = documents.lines(bol.INVOICE_ID, [line], LATEST_MOMENT)[0]
    assert (row.row["vat_rate"], row.row["vat_category"], row.row["vat_amount"]) == (
        Decimal("21.00"),
        "S",
        Decimal("1.55"),
    )
    assert (row.row["order_id"], row.row["shipment_id"], row.row["transaction_at"], row.row["transaction_date"]) == (
        "O1",
        "123456",
        None,
        date(2026, 2, 20),
    )
    assert row.extra["item"]["AdditionalItemProperty"] == [
        {"Name": {"value": "fulfilmentMethod"}, "Value": {"value": "FBB"}}
    ]


def test_transaction_moments_in_epoch_milliseconds() -> None:
    line = bol.line(1)
    line["item"]["AdditionalItemProperty"][-1]["Value"] = {"value": 1771592580000}
    row = documents.lines(bol.INVOICE_ID, [line], LATEST_MOMENT)[0].row
    assert row["transaction_at"] == datetime(2026, 2, 20, 13, 3, tzinfo=UTC)


def test_lines_without_a_unique_reference_are_keyed_by_their_content() -> None:
    twice = [bol.line(3, invoiceLineRef=None), bol.line(3, invoiceLineRef=None), bol.line(4, invoiceLineRef=None)]
    keys = [line.row["line_key"] for line in documents.lines(bol.INVOICE_ID, twice, LATEST_MOMENT)]
    assert keys[0].startswith("h:")
    assert keys[1] == f"{keys[0]}:2"
    assert keys[2] != keys[0]
    again = [line.row["line_key"] for line in documents.lines(bol.INVOICE_ID, list(reversed(twice)), LATEST_MOMENT)]
    assert sorted(again) == sorted(keys)
    same_ref = [bol.line(1), bol.line(2, invoiceLineRef=f"{bol.INVOICE_ID}-00001")]
    assert all(
        line.row["line_key"].startswith("h:") for line in documents.lines(bol.INVOICE_ID, same_ref, LATEST_MOMENT)
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda line: line.pop("lineExtensionAmount"), "invoiceSpecification[1].lineExtensionAmount"),
        (lambda line: line.update(lineExtensionAmount=bol.amount("n/a")), f"{LINE_2}.lineExtensionAmount"),
        (lambda line: line.update(invoicedQuantity={"value": "2.0005"}), "invoiceSpecification[1].invoicedQuantity"),
        (
            lambda line: line["item"]["AdditionalItemProperty"].append({"Name": "orderId", "Value": "O9"}),
            "invoiceSpecification[1].item.AdditionalItemProperty.4",
        ),
        (
            lambda line: line["item"]["AdditionalItemProperty"][-1].update(Value={"value": "2031-01-01T00:00:00Z"}),
            "invoiceSpecification[1].item.AdditionalItemProperty.3.Value.value",
        ),
        (lambda line: line.update(taxTotal={"TaxAmount": {"value": 1, "currencyID": "USD"}}), f"{LINE_2}.currencyID"),
    ],
)  # fmt: skip
def test_a_line_that_cannot_be_right_is_refused_naming_it(change: Any, field: str) -> None:
    bad = bol.line(2)
    change(bad)
    with pytest.raises(InvalidRecord) as refused:
        documents.lines(bol.INVOICE_ID, [bol.line(1), bad], LATEST_MOMENT)
    assert refused.value.key == bol.INVOICE_ID
    assert refused.value.field == field
    assert "specification line 2" in str(refused.value)


def test_free_text_loses_control_characters() -> None:
    line = bol.line(1)
    line["item"]["Description"] = [{"value": "Omzet\x00 (retour)\tNL"}]
    assert documents.lines(bol.INVOICE_ID, [line], LATEST_MOMENT)[0].row["description"] == "Omzet (retour)\tNL"
