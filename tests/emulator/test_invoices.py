"""Invoices: the list (period rules), the UBL detail, the specification's lines (paging, media types) and how
they tie to orders, order items, EANs and returns and add up to the totals per VAT rate."""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bol_emulator.business_truth import invoice_lines, invoices
from tests.emulator.business_helpers import PDF, XLSX, movable_world, table
from tests.emulator.conftest import Api

LIST_KEYS = {
    "invoiceId",
    "invoiceMediaTypes",
    "invoiceType",
    "issueDate",
    "invoicePeriod",
    "legalMonetaryTotal",
    "specificationMediaTypes",
    "openAmount",
}
AMS_OFFSET = {"+01:00", "+02:00"}
PLAIN_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def d(value: float) -> Decimal:
    return Decimal(str(value))


def day_of(epoch_ms: int) -> date:
    return (datetime.fromtimestamp(epoch_ms / 1000, UTC) + timedelta(hours=2)).date()


def specification(api: Api, invoice_id: str, **params: Any) -> list[dict[str, Any]]:
    lines, page = [], 1
    while True:
        response = api.get(f"/retailer/invoices/{invoice_id}/specification", params={**params, "page": page})
        assert response.status_code == 200, response.text
        found = response.json().get("invoiceSpecification", [])
        if not found:
            assert response.content == b"{}"
            return lines
        lines += found
        page += 1


def prop(line: dict[str, Any], name: str) -> str | None:
    return next(
        (p["Value"]["value"] for p in line["item"]["AdditionalItemProperty"] if p["Name"]["value"] == name), None
    )


def test_the_list_holds_the_past_four_weeks(api: Api) -> None:
    truth = {row["invoice_id"]: row for row in table(api, "invoices")}
    assert truth
    body = api.get("/retailer/invoices").json()
    today = datetime.now(UTC).date()
    start, end = body["period"].split("/")
    assert end[:10] in {
        today.isoformat(),
        (today + timedelta(days=1)).isoformat(),
        (today - timedelta(days=1)).isoformat(),
    }
    assert (date.fromisoformat(end[:10]) - date.fromisoformat(start[:10])).days == 28
    assert start[-6:] in AMS_OFFSET
    listed = body["invoiceListItems"]
    assert {i["invoiceId"] for i in listed} == {
        k for k, v in truth.items() if date.fromisoformat(start[:10]) <= date.fromisoformat(v["issue_date"])
    }
    for item in listed:
        row = truth[item["invoiceId"]]
        assert set(item) == LIST_KEYS
        assert item["invoiceType"] == "ALL_IN_ONE"
        assert day_of(item["issueDate"]).isoformat() == row["issue_date"]
        assert day_of(item["invoicePeriod"]["startDate"]).isoformat() == row["period_start"]
        totals = item["legalMonetaryTotal"]
        assert totals["taxExclusiveAmount"] == {"amount": row["total_excl_vat"], "currencyID": "EUR"}
        assert totals["taxInclusiveAmount"]["amount"] == row["total_incl_vat"] == totals["payableAmount"]["amount"]
        assert item["specificationMediaTypes"]["availableMediaTypes"] == ["application/json", PLAIN_XLSX]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"period-start-date": "2026-01-01", "period-end-date": "2026-02-01"}, "period-end-date"),
        ({"period-start-date": "2026-01-10", "period-end-date": "2026-01-09"}, "period-end-date"),
        ({"period-start-date": "2026-01-01"}, "period-end-date"),
        ({"period-end-date": "2026-01-01"}, "period-start-date"),
        ({"period-start-date": "01-01-2026", "period-end-date": "2026-01-02"}, "period-start-date"),
    ],
)
def test_bad_periods_are_400(api: Api, params: dict[str, str], name: str) -> None:
    response = api.get("/retailer/invoices", params=params)
    assert response.status_code == 400
    assert [v["name"] for v in response.json()["violations"]] == [name]


def test_a_period_of_31_days_and_an_empty_one(api: Api) -> None:
    response = api.get(
        "/retailer/invoices", params={"period-start-date": "2026-01-01", "period-end-date": "2026-01-31"}
    )
    assert response.status_code == 200
    assert response.json()["invoiceListItems"] == []
    assert response.json()["period"].startswith("2026-01-01T00:00:00+01:00/2026-01-31T00:00:00+01:00")


def test_specification_ties_to_orders_and_adds_up_per_vat_rate(big_api: Api) -> None:
    orders = {row["order_item_id"]: row for row in big_api.truth()}
    returns = {row["rma_id"]: row for row in table(big_api, "return-items")}
    kinds: set[str] = set()
    for invoice in table(big_api, "invoices"):
        lines = specification(big_api, invoice["invoice_id"])
        assert len(lines) == invoice["line_count"]
        assert len({line["invoiceLineRef"] for line in lines}) == len(lines)
        per_rate: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for line in lines:
            kind = line["item"]["Name"]["value"]
            kinds.add(kind)
            rate = f"{d(line['item']['ClassifiedTaxCategory'][0]['Percent']['value']):.2f}"
            per_rate[rate][0] += d(line["lineExtensionAmount"]["value"])
            per_rate[rate][1] += d(line["taxTotal"]["TaxAmount"]["value"])
            order_id, item_id, ean = prop(line, "orderId"), prop(line, "orderItemId"), prop(line, "ean")
            assert line["id"] == f"{order_id or ''}#{ean or ''}#{kind}"
            if item_id is not None and item_id in orders:
                assert (orders[item_id]["order_id"], orders[item_id]["ean"]) == (order_id, ean)
            if prop(line, "rmaId") is not None:
                assert returns[prop(line, "rmaId")]["order_id"] == order_id
            assert datetime.fromisoformat(prop(line, "transactionDate") or "").utcoffset() is not None
        assert {k: {"total_excl_vat": float(v[0]), "vat": float(v[1])} for k, v in per_rate.items()} == invoice[
            "vat_by_rate"
        ]
        assert float(sum(v[0] for v in per_rate.values())) == invoice["total_excl_vat"]
        assert any(line["item"]["Name"]["value"] == "CORRECTION_CORRECTION" for line in lines)
    assert {
        "TURNOVER",
        "COMMISSION",
        "PICK_PACK",
        "SHIPMENT_LABEL_POST",
        "PLAZA_RETURN_SHIPPING_LABEL",
        "STOCK",
    } <= kinds
    assert {"CORRECTION_TURNOVER", "CORRECTION_COMMISSION"} <= kinds


def test_commission_and_turnover_match_the_orders(big_api: Api) -> None:
    orders = {row["order_item_id"]: row for row in big_api.truth()}
    shipments = defaultdict(int)
    for row in table(big_api, "shipment-items"):
        shipments[row["order_item_id"]] += 1
    checked = 0
    for line in table(big_api, "invoice-lines"):
        order = orders.get(line["order_item_id"] or "")
        if order is None or shipments[line["order_item_id"]] != 1 or order["quantity_shipped"] != order["quantity"]:
            continue
        if line["charge_type"] == "COMMISSION":
            assert line["amount_excl_vat"] == order["commission"]
            assert (line["vat_rate"], line["vat_amount"]) == (
                21.0,
                float((d(order["commission"]) * Decimal("0.21")).quantize(Decimal("0.01"), "ROUND_HALF_UP")),
            )
            checked += 1
        if line["charge_type"] == "TURNOVER":
            assert line["amount_excl_vat"] < 0
            assert line["vat_amount"] == 0
            assert line["quantity"] == order["quantity"]
    assert checked > 100


def test_detail_json_and_pdf(api: Api) -> None:
    invoice = table(api, "invoices")[-1]
    body = api.get(f"/retailer/invoices/{invoice['invoice_id']}").json()
    assert body["ID"] == invoice["invoice_id"]
    assert body["IssueDate"] == invoice["issue_date"]
    assert body["AccountingSupplierParty"]["Party"]["PartyName"]["Name"] == "bol.com B.V."
    assert body["LegalMonetaryTotal"]["TaxExclusiveAmount"]["value"] == invoice["total_excl_vat"]
    rates: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for sub in body["TaxTotal"]["TaxSubtotal"]:
        key = f"{d(sub['TaxCategory']['Percent']):.2f}"
        rates[key][0] += d(sub["TaxableAmount"]["value"])
        rates[key][1] += d(sub["TaxAmount"]["value"])
    assert {k: {"total_excl_vat": float(v[0]), "vat": float(v[1])} for k, v in rates.items()} == invoice["vat_by_rate"]
    pdf = api.get(f"/retailer/invoices/{invoice['invoice_id']}", accept=PDF)
    assert pdf.headers["Content-Type"] == PDF
    assert pdf.content.startswith(b"%PDF-1.4")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    assert api.get("/retailer/invoices/abc").status_code == 400
    assert api.get("/retailer/invoices/123").status_code == 404
    assert api.get(f"/retailer/invoices/{invoice['invoice_id']}", accept="text/csv").status_code == 406


def test_specification_pages_and_xlsx(api: Api) -> None:
    invoice = table(api, "invoices")[-1]
    whole = specification(api, invoice["invoice_id"])
    assert api.control("POST", "/config", json={"invoice_specification_page_size": 7}).status_code == 200
    first = api.get(f"/retailer/invoices/{invoice['invoice_id']}/specification").json()["invoiceSpecification"]
    assert len(first) == 7
    assert specification(api, invoice["invoice_id"]) == whole
    assert api.get(f"/retailer/invoices/{invoice['invoice_id']}/specification", params={"page": 0}).status_code == 400
    workbook = api.get(f"/retailer/invoices/{invoice['invoice_id']}/specification", accept=XLSX)
    assert workbook.headers["Content-Type"] == XLSX
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert sheet.count("<row>") == 1 + 7
    assert whole[0]["invoiceLineRef"] in sheet


def test_issue_invoice_takes_what_is_not_invoiced_yet(api: Api) -> None:
    shipped = api.world("ship", 3)
    made = api.world("register_return", 1)
    api.world("handle_return", rma_id=made["rma_ids"][0])
    issued = api.world("issue_invoice")["invoice_ids"][0]
    listed = {i["invoiceId"] for i in api.get("/retailer/invoices").json()["invoiceListItems"]}
    assert issued in listed
    lines = [row for row in table(api, "invoice-lines") if row["invoice_id"] == issued]
    assert set(shipped["order_item_ids"]) <= {
        row["order_item_id"] for row in lines if row["charge_type"] == "COMMISSION"
    }
    refunds = [row for row in lines if row["rma_id"] == made["rma_ids"][0]]
    assert {row["charge_type"] for row in refunds} >= {"CORRECTION_TURNOVER", "CORRECTION_COMMISSION"}
    again = api.control("POST", "/world", json={"client_id": "demo-client-a", "action": "issue_invoice"})
    assert again.status_code == 400
    assert "nothing to invoice" in again.json()["error"]


def test_invoices_are_issued_per_half_month_and_deterministic() -> None:
    anchor = datetime(2026, 3, 14, 12, tzinfo=UTC)
    first, wall = movable_world(anchor, history_days=40)
    second, _ = movable_world(anchor, history_days=40)

    def both(world: Any) -> tuple[list[dict], list[dict]]:
        return world.business.read("demo-client-a", lambda s, _: (invoices(s), invoice_lines(s)))

    assert both(first) == both(second)
    periods = [(row["period_start"], row["period_end"], row["issue_date"]) for row in both(first)[0]]
    assert (
        periods
        == [
            ("2026-02-01", "2026-02-15", "2026-02-16"),
            ("2026-02-16", "2026-02-28", "2026-03-01"),
            ("2026-03-01", "2026-03-15", "2026-03-16"),
        ][: len(periods)]
    )
    assert len(periods) == 2
    wall.move(timedelta(days=1, hours=10))
    assert len(both(first)[0]) == 2
    wall.move(timedelta(hours=2))
    newest = both(first)[0][-1]
    assert (newest["period_start"], newest["issue_date"]) == ("2026-03-01", "2026-03-16")
    lines = [row for row in both(first)[1] if row["invoice_id"] == newest["invoice_id"]]
    assert all(date.fromisoformat(row["transaction_at"][:10]) <= date(2026, 3, 15) for row in lines)
