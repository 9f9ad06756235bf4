"""bol's demo environment in the emulator: /retailer-demo and /shared-demo with fixed answers in the spec's shapes,
behind the same login and token checks as production."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from bol_emulator.demo_api import ORDERS
from tests.emulator.conftest import CLIENT_B, Api
from tests.support.fixture_server import BOL_API_DIR


def _validator(spec: str, schema: str) -> jsonschema.Draft4Validator:
    raw = json.loads((BOL_API_DIR / spec).read_text())
    return jsonschema.Draft4Validator({"$ref": f"#/components/schemas/{schema}", "components": raw["components"]})


def _valid(spec: str, schema: str, body: Any) -> None:
    errors = [error.message for error in _validator(spec, schema).iter_errors(body)]
    assert errors == [], errors


def test_the_order_list_is_fixed_and_spec_shaped(api: Api) -> None:
    first = api.get("/retailer-demo/orders")
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/vnd.retailer.v10+json")
    _valid("retailer-v10.openapi.json", "ReducedOrders", first.json())
    assert [order["orderId"] for order in first.json()["orders"]] == list(ORDERS)
    again = Api(api.handle, CLIENT_B).get("/retailer-demo/orders", params={"page": 1, "status": "ALL"})
    assert again.json() == first.json()  # the same for every seller and query, like bol's demo
    assert api.get("/retailer-demo/orders", params={"page": 2}).json() == {}


def test_the_order_list_validates_its_parameters_like_production(api: Api) -> None:
    response = api.get("/retailer-demo/orders", params={"change-interval-minute": 0})
    assert response.status_code == 400
    assert response.json()["violations"][0]["name"] == "change-interval-minute"


@pytest.mark.parametrize("order_id", list(ORDERS))
def test_the_listed_orders_have_spec_shaped_details(api: Api, order_id: str) -> None:
    response = api.get(f"/retailer-demo/orders/{order_id}")
    assert response.status_code == 200
    _valid("retailer-v10.openapi.json", "Order", response.json())
    assert response.json()["orderId"] == order_id


def test_an_unknown_demo_order_is_404(api: Api) -> None:
    response = api.get("/retailer-demo/orders/999")
    assert response.status_code == 404
    assert response.json()["detail"] == "Order for order id 999 not found."


def test_the_process_status_is_mocked_under_shared_demo(api: Api) -> None:
    response = api.get("/shared-demo/process-status/42")
    assert response.status_code == 200
    body = response.json()
    _valid("shared-v10.openapi.json", "ProcessStatus", body)
    assert body["processStatusId"] == "42"
    assert body["status"] == "SUCCESS"
    assert body["links"][0]["href"].endswith("/shared-demo/process-status/42")


def test_the_demo_needs_a_token_and_an_active_account(api: Api) -> None:
    assert api.get("/retailer-demo/orders", token="not-a-token").status_code == 401
    api.fault(kind="inactive", client_id=api.credentials[0])
    response = api.get("/retailer-demo/orders")
    assert response.status_code == 403
    assert "not active" in response.json()["detail"]


def test_the_demo_has_one_generic_rate_limit(api: Api) -> None:
    api.get("/retailer-demo/orders")
    response = api.get(f"/retailer-demo/orders/{next(iter(ORDERS))}")
    assert int(response.headers["X-RateLimit-Remaining"]) == int(response.headers["X-RateLimit-Limit"]) - 2
    stats = api.handle.stats.snapshot()["requests"]
    assert stats["GET /retailer-demo/orders"] == {"200": 1}
    assert "GET /retailer/orders" not in stats
