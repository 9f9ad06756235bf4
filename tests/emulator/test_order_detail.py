"""GET /retailer/orders/{order-id}: the full order, and 404 Problems."""

from __future__ import annotations

from datetime import datetime

from bol_emulator import EmulatorHandle
from tests.emulator.conftest import CLIENT_B, V10, Api

ITEM_REQUIRED = {
    "orderItemId",
    "cancellationRequest",
    "commission",
    "discounts",
    "latestChangedDateTime",
    "quantity",
    "quantityCancelled",
    "quantityShipped",
    "totalPrice",
    "unitPrice",
}


def test_order_detail_shape(api: Api) -> None:
    truth = api.truth()
    order_id = truth[-1]["order_id"]
    response = api.get(f"/retailer/orders/{order_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.retailer.v10+json;charset=UTF-8"
    order = response.json()
    assert order["orderId"] == order_id
    assert isinstance(order["pickupPoint"], bool)
    assert order["orderPlacedDateTime"][-6:] in ("+01:00", "+02:00")
    ship, bill = order["shipmentDetails"], order["billingDetails"]
    for details in (ship, bill):
        assert {
            "salutation",
            "firstName",
            "surname",
            "streetName",
            "houseNumber",
            "zipCode",
            "city",
            "countryCode",
            "email",
        } <= set(details)
        assert details["email"].endswith("@verkopen.bol.com")
    expected_items = [row for row in truth if row["order_id"] == order_id]
    assert [i["orderItemId"] for i in order["orderItems"]] == [r["order_item_id"] for r in expected_items]
    for item, row in zip(order["orderItems"], expected_items, strict=True):
        assert set(item) >= ITEM_REQUIRED
        fulfilment = item["fulfilment"]
        assert fulfilment["method"] == row["fulfilment_method"]
        assert fulfilment["distributionParty"] in ("RETAILER", "BOL")
        assert ("latestDeliveryDate" in fulfilment) != ("exactDeliveryDate" in fulfilment)
        assert {"expiryDate", "timeFrameType"} <= set(fulfilment)
        assert item["offer"]["offerId"] == row["offer_id"]
        assert item["product"] == {"ean": row["ean"], "title": row["product_title"]}
        assert item["unitPrice"] == row["unit_price"]
        assert item["commission"] == row["commission"]
        discount = sum(d["amount"] for d in item["discounts"])
        assert round(item["unitPrice"] * item["quantity"] - discount, 2) == item["totalPrice"]
        assert datetime.fromisoformat(item["latestChangedDateTime"]) == datetime.fromisoformat(row["latest_changed_at"])


def test_personal_data_variety(big_api: Api, big_emulator: EmulatorHandle) -> None:
    orders = [big_api.get(f"/retailer/orders/{row['order_id']}").json() for row in big_api.truth()[:150:2]]
    text = str(orders)
    assert any(ch in text for ch in "ëüéĲ")
    assert any("company" in o["billingDetails"] for o in orders) or any(
        "kvkNumber" in o["billingDetails"] for o in orders
    )
    assert any("deliveryPhoneNumber" in o["shipmentDetails"] for o in orders)
    assert any(len(o["orderItems"]) > 1 for o in orders)


def test_unknown_order_is_404_problem(api: Api) -> None:
    response = api.get("/retailer/orders/NOSUCHORDR")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith(V10)
    body = response.json()
    assert body["type"] == "https://api.bol.com/problems"
    assert body["title"] == "Not Found"
    assert body["status"] == 404
    assert "NOSUCHORDR" in body["detail"]
    assert body["instance"].endswith("/retailer/orders/NOSUCHORDR")
    assert "X-RateLimit-Limit" in response.headers


def test_orders_of_another_account_are_404(api: Api) -> None:
    other = api.truth(CLIENT_B[0])[0]["order_id"]
    assert other not in {row["order_id"] for row in api.truth()}
    assert api.get(f"/retailer/orders/{other}").status_code == 404
    assert Api(api.handle, CLIENT_B).get(f"/retailer/orders/{other}").status_code == 200


def test_unknown_paths_and_methods(api: Api) -> None:
    assert api.get("/retailer/replenishments").status_code == 404
    response = api.session.post(
        api.handle.base_url + "/retailer/orders",
        headers={"Authorization": f"Bearer {api.token}", "Accept": V10},
    )
    assert response.status_code == 405
