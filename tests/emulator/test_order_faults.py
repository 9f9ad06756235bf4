"""The ``order_value`` fault: odd values in one order's list entry or full order, until the faults are cleared."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tests.emulator.conftest import CLIENT_B, Api


def _first_order(api: Api) -> dict[str, Any]:
    return api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"})[0]


def _detail(api: Api, order_id: str) -> dict[str, Any]:
    response = api.get(f"/retailer/orders/{order_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _listed(api: Api, order_id: str) -> dict[str, Any]:
    return next(o for o in api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"}) if o["orderId"] == order_id)


def test_a_detail_value_is_replaced_and_the_list_entry_left_alone(api: Api) -> None:
    order_id = _first_order(api)["orderId"]
    api.fault(kind="order_value", order_id=order_id, field="orderItems.0.quantity", value=3_000_000_000, where="detail")
    assert _detail(api, order_id)["orderItems"][0]["quantity"] == 3_000_000_000
    assert _listed(api, order_id)["orderItems"][0]["quantity"] != 3_000_000_000
    faults = api.control("GET", "/faults").json()["order_values"]
    assert faults == [
        {
            "kind": "order_value",
            "order_id": order_id,
            "field": "orderItems.0.quantity",
            "value": 3_000_000_000,
            "remove": False,
            "where": "detail",
            "client_id": None,
        }
    ]


def test_a_removed_change_time_and_values_of_every_item_in_both_shapes(api: Api) -> None:
    order_id = _first_order(api)["orderId"]
    api.fault(kind="order_value", order_id=order_id, field="orderItems.*.latestChangedDateTime", remove=True)
    api.fault(kind="order_value", order_id=order_id, field="orderItems.*.quantity", value="2")
    for body in (_detail(api, order_id), _listed(api, order_id)):
        assert body["orderItems"]
        assert all("latestChangedDateTime" not in item for item in body["orderItems"])
        assert all(item["quantity"] == "2" for item in body["orderItems"])


def test_items_that_are_not_objects_and_values_json_cannot_say_strictly(api: Api) -> None:
    order_id = _first_order(api)["orderId"]
    api.fault(kind="order_value", order_id=order_id, field="orderItems.0", value="not an item", where="list")
    raw = json.dumps({"kind": "order_value", "order_id": order_id, "field": "orderItems.0.unitPrice", "value": None})
    response = api.control("POST", "/faults", data=raw.replace("null", "NaN"))
    assert response.status_code == 201, response.text
    assert _listed(api, order_id)["orderItems"][0] == "not an item"
    assert math.isnan(_detail(api, order_id)["orderItems"][0]["unitPrice"])  # served as the literal NaN


def test_other_orders_and_other_clients_are_untouched_and_clearing_restores(api: Api) -> None:
    orders = api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"})
    chosen, other = orders[0]["orderId"], orders[1]["orderId"]
    before = _detail(api, other)
    api.fault(kind="order_value", order_id=chosen, field="orderId", value=None, client_id=CLIENT_B[0])
    assert _detail(api, chosen)["orderId"] == chosen  # the fault is for the other client
    api.fault(kind="order_value", order_id=chosen, field="pickupPoint", value="yes")
    assert _detail(api, chosen)["pickupPoint"] == "yes"
    assert _detail(api, other) == before
    api.control("DELETE", "/faults")
    assert _detail(api, chosen)["pickupPoint"] in (True, False)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"field": "quantity", "value": 1}, "order_id"),
        ({"order_id": "A1", "field": "orderItems..quantity", "value": 1}, "dotted path"),
        ({"order_id": "A1", "field": "orderId", "value": 1, "where": "page"}, "where"),
        ({"order_id": "A1", "field": "orderId"}, "value"),
        ({"order_id": "A1", "field": "orderId", "value": 1, "remove": True}, "remove"),
    ],
)
def test_malformed_rules_are_refused(api: Api, rule: dict[str, Any], message: str) -> None:
    response = api.control("POST", "/faults", json={"kind": "order_value", **rule})
    assert response.status_code == 400
    assert message in response.text
