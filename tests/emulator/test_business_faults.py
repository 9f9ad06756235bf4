"""Faults on the business endpoints: the generic rules on the new paths, a body cut off mid-transfer, an
invoice whose specification does not add up and one without a JSON specification."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
import requests

from tests.emulator.business_helpers import XLSX, table
from tests.emulator.conftest import Api

PLAIN_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_generic_rules_apply_to_the_new_paths(api: Api) -> None:
    api.token  # noqa: B018 - fetch the token before the faults
    api.fault(kind="server_error", status=503, path_prefix="/retailer/returns")
    assert api.get("/retailer/returns").status_code == 503
    api.fault(kind="drop_connection", path_prefix="/retailer/invoices")
    with pytest.raises(requests.ConnectionError):
        api.get("/retailer/invoices")
    api.fault(kind="burst_429", seconds=3, path_prefix="/retailer/shipments")
    throttled = api.get("/retailer/shipments")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    body = base64.b64encode(b'{"inventory": [{"ean": "1"}]}').decode()
    api.fault(kind="respond", status=200, body_base64=body, path_prefix="/retailer/inventory")
    assert api.get("/retailer/inventory").json() == {"inventory": [{"ean": "1"}]}
    for path in ("/retailer/returns", "/retailer/invoices", "/retailer/shipments", "/retailer/inventory"):
        assert api.get(path).status_code == 200


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9])
def test_a_cut_off_body(api: Api, keep: float) -> None:
    api.token  # noqa: B018
    whole = api.get("/retailer/shipments").content
    api.fault(kind="cut_body", keep=keep, path_prefix="/retailer/shipments")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get("/retailer/shipments")
    raw = api.session.get(
        api.handle.base_url + "/retailer/shipments",
        headers={"Authorization": f"Bearer {api.token}", "Accept": "application/vnd.retailer.v10+json"},
        timeout=10,
    )
    assert raw.content == whole
    assert api.control("GET", "/faults").json().get("business_faults") is None


def test_cut_body_is_validated(api: Api) -> None:
    assert api.control("POST", "/faults", json={"kind": "cut_body", "keep": 0.25, "count": 2}).status_code == 201
    for rule in ({"keep": 1}, {"keep": -0.1}, {"keep": "half"}, {"count": 0}):
        assert api.control("POST", "/faults", json={"kind": "cut_body", **rule}).status_code == 400


def test_an_invoice_whose_specification_does_not_add_up(api: Api) -> None:
    invoice = table(api, "invoices")[-1]
    path = f"/retailer/invoices/{invoice['invoice_id']}/specification"

    def total() -> Decimal:
        lines = api.get(path).json()["invoiceSpecification"]
        return sum((Decimal(str(line["lineExtensionAmount"]["value"])) for line in lines), Decimal(0))

    assert total() == Decimal(str(invoice["total_excl_vat"]))
    api.fault(kind="invoice_unbalanced", invoice_id=invoice["invoice_id"], amount=1.5)
    assert total() == Decimal(str(invoice["total_excl_vat"])) + Decimal("1.50")
    assert total() != Decimal(str(invoice["total_excl_vat"]))
    listed = api.get("/retailer/invoices").json()["invoiceListItems"]
    assert (
        next(i for i in listed if i["invoiceId"] == invoice["invoice_id"])["legalMonetaryTotal"]["taxExclusiveAmount"][
            "amount"
        ]
        == invoice["total_excl_vat"]
    )
    api.control("DELETE", "/faults")
    assert total() == Decimal(str(invoice["total_excl_vat"]))


def test_an_invoice_with_only_an_xlsx_specification(api: Api) -> None:
    invoice_id = table(api, "invoices")[-1]["invoice_id"]
    api.fault(kind="invoice_specification", mode="xlsx_only", invoice_id=invoice_id)
    item = next(i for i in api.get("/retailer/invoices").json()["invoiceListItems"] if i["invoiceId"] == invoice_id)
    assert item["specificationMediaTypes"]["availableMediaTypes"] == [PLAIN_XLSX]
    refused = api.get(f"/retailer/invoices/{invoice_id}/specification")
    assert refused.status_code == 406
    assert refused.json()["status"] == 406
    assert api.get(f"/retailer/invoices/{invoice_id}/specification", accept=XLSX).status_code == 200


def test_an_invoice_without_any_specification(api: Api) -> None:
    invoice_id = table(api, "invoices")[-1]["invoice_id"]
    api.fault(kind="invoice_specification", mode="missing")
    item = next(i for i in api.get("/retailer/invoices").json()["invoiceListItems"] if i["invoiceId"] == invoice_id)
    assert item["specificationMediaTypes"]["availableMediaTypes"] == []
    for accept in ("application/vnd.retailer.v10+json", XLSX):
        response = api.get(f"/retailer/invoices/{invoice_id}/specification", accept=accept)
        assert response.status_code == 404
    assert api.get(f"/retailer/invoices/{invoice_id}").status_code == 200
    snapshot = api.control("GET", "/faults").json()
    assert snapshot["business_faults"] == [
        {"kind": "invoice_specification", "client_id": None, "invoice_id": None, "amount": "0", "mode": "missing"}
    ]
    assert api.control("POST", "/faults", json={"kind": "invoice_specification", "mode": "pdf"}).status_code == 400
