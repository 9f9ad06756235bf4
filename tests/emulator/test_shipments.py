"""``GET /retailer/shipments`` and ``/shipments/{shipment-id}``: shipments add up to the order items' shipped
quantities, the list's order, filters, 3-month window and reduced shape, the detail, and the shipment actions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from bol_emulator import shipments_api
from tests.emulator.business_helpers import all_pages, movable_world, table
from tests.emulator.conftest import Api

TRANSPORT_EVENTS = {
    "PRE_ANNOUNCED",
    "AT_TRANSPORTER",
    "IN_TRANSIT",
    "DELIVERED_AT_NEIGHBOURS",
    "DELIVERED_AT_CUSTOMER",
    "PICKED_UP_AT_PICK_UP_POINT",
    "AT_PICK_UP_POINT",
    "RETURNED_TO_SENDER",
    "INBOUND_COLLECT",
}


def shipped_units(api: Api) -> Counter[str]:
    units: Counter[str] = Counter()
    for row in table(api, "shipment-items"):
        units[row["order_item_id"]] += row["quantity"]
    return units


def assert_shipments_add_up(api: Api) -> None:
    units = shipped_units(api)
    for row in api.truth():
        assert units[row["order_item_id"]] == row["quantity_shipped"], row


def test_shipments_carry_exactly_the_shipped_units(api: Api) -> None:
    assert_shipments_add_up(api)
    assert {row["fulfilment_method"] for row in table(api, "shipments")} == {"FBR", "FBB"}


def test_shipping_keeps_them_adding_up(api: Api) -> None:
    open_item = next(
        r
        for r in api.truth()
        if r["fulfilment_status"] == "OPEN" and r["quantity"] - r["quantity_shipped"] - r["quantity_cancelled"] >= 2
    )
    made = api.world(
        "ship_item",
        order_item_id=open_item["order_item_id"],
        quantity=1,
        transporter_code="DHL",
        shipment_reference="MY-REF-1",
    )
    shipment = api.get(f"/retailer/shipments/{made['shipment_ids'][0]}").json()
    assert shipment["shipmentReference"] == "MY-REF-1"
    assert shipment["transport"]["transporterCode"] == "DHL"
    assert [(i["orderItemId"], i["quantityShipped"]) for i in shipment["shipmentItems"]] == [
        (open_item["order_item_id"], 1)
    ]
    order = api.get(f"/retailer/orders/{open_item['order_id']}").json()
    item = next(i for i in order["orderItems"] if i["orderItemId"] == open_item["order_item_id"])
    assert item["quantityShipped"] == open_item["quantity_shipped"] + 1
    shipped = api.world("ship", 5)
    assert shipped["order_item_ids"]
    assert_shipments_add_up(api)
    newest = api.get("/retailer/shipments", params={"order-id": shipped["order_ids"][0]}).json()["shipments"][0]
    assert newest["order"]["orderId"] == shipped["order_ids"][0]


def test_the_list_is_newest_first_reduced_and_complete(api: Api) -> None:
    truth = {row["shipment_id"]: row for row in table(api, "shipments")}
    listed = []
    for method in ("FBR", "FBB"):
        entries = all_pages(api, "/retailer/shipments", "shipments", **{"fulfilment-method": method})
        moments = [datetime.fromisoformat(e["shipmentDateTime"]) for e in entries]
        assert moments == sorted(moments, reverse=True)
        assert {truth[e["shipmentId"]]["fulfilment_method"] for e in entries} == {method}
        listed += entries
    assert sorted(e["shipmentId"] for e in listed) == sorted(truth)
    for entry in listed:
        assert set(entry) == {
            "shipmentId",
            "shipmentDateTime",
            "shipmentReference",
            "order",
            "shipmentItems",
            "transport",
        }
        assert set(entry["transport"]) == {"transportId"}
        assert all(set(item) == {"orderItemId", "ean"} for item in entry["shipmentItems"])
    assert (
        api.get("/retailer/shipments").content
        == api.get("/retailer/shipments", params={"fulfilment-method": "FBR"}).content
    )


def test_order_filter_lists_both_methods_and_excludes_the_method_filter(api: Api) -> None:
    order_id = table(api, "shipments")[0]["order_id"]
    response = api.get("/retailer/shipments", params={"order-id": order_id})
    expected = {row["shipment_id"] for row in table(api, "shipments") if row["order_id"] == order_id}
    assert {s["shipmentId"] for s in response.json()["shipments"]} == expected
    bad = api.get("/retailer/shipments", params={"order-id": order_id, "fulfilment-method": "FBR"})
    assert bad.status_code == 400
    assert [v["name"] for v in bad.json()["violations"]] == ["order-id"]
    assert api.get("/retailer/shipments", params={"fulfilment-method": "ALL"}).status_code == 400
    assert api.get("/retailer/shipments", params={"order-id": "1"}).content == b"{}"


def test_detail_has_quantities_transport_and_customer_details(api: Api) -> None:
    rows = table(api, "shipments")
    row = next(r for r in rows if r["track_and_trace"] and r["transport_events"])
    shipment = api.get(f"/retailer/shipments/{row['shipment_id']}").json()
    order = api.get(f"/retailer/orders/{row['order_id']}").json()
    assert shipment["shipmentDetails"] == order["shipmentDetails"] == row["shipment_details"]
    assert shipment["billingDetails"] == order["billingDetails"]
    transport = shipment["transport"]
    assert (transport["transporterCode"], transport["trackAndTrace"]) == (
        row["transporter_code"],
        row["track_and_trace"],
    )
    codes = [e["eventCode"] for e in transport["transportEvents"]]
    assert codes == [e["event_code"] for e in row["transport_events"]]
    assert set(codes) <= TRANSPORT_EVENTS
    ordered = {i["orderItemId"]: i for i in order["orderItems"]}
    items = [i for i in table(api, "shipment-items") if i["shipment_id"] == row["shipment_id"]]
    for item in shipment["shipmentItems"]:
        assert item["quantity"] == ordered[item["orderItemId"]]["quantity"]
        assert item["quantityShipped"] == next(
            i["quantity"] for i in items if i["order_item_id"] == item["orderItemId"]
        )
        assert item["unitPrice"] == ordered[item["orderItemId"]]["unitPrice"]
    assert api.get("/retailer/shipments/123").status_code == 404


def test_transport_events_move_on_only_when_told(api: Api) -> None:
    shipped = api.world(
        "ship_item", order_item_id=next(r["order_item_id"] for r in api.truth() if r["fulfilment_status"] == "OPEN")
    )
    shipment_id = shipped["shipment_ids"][0]
    before = api.get(f"/retailer/shipments/{shipment_id}").json()["transport"].get("transportEvents", [])
    assert before == []
    moved = api.world("transport_event", shipment_id=shipment_id)
    assert moved["events"][0]["event_code"] == "PRE_ANNOUNCED"
    api.world("transport_event", shipment_id=shipment_id, event_code="DELIVERED_AT_CUSTOMER")
    events = api.get(f"/retailer/shipments/{shipment_id}").json()["transport"]["transportEvents"]
    assert [e["eventCode"] for e in events] == ["PRE_ANNOUNCED", "DELIVERED_AT_CUSTOMER"]
    bad = api.control(
        "POST",
        "/world",
        json={
            "client_id": "demo-client-a",
            "action": "transport_event",
            "shipment_id": shipment_id,
            "event_code": "LOST",
        },
    )
    assert bad.status_code == 400
    assert "event_code" in bad.json()["error"]


def test_the_list_goes_back_three_months_but_details_stay() -> None:
    anchor = datetime(2026, 5, 20, 12, tzinfo=UTC)
    world, _ = movable_world(anchor, history_days=120, orders_per_day=3)
    client = "demo-client-a"
    shipments = world.business.state(client).shipments.values()
    old = [s for s in shipments if s.shipped_at < datetime(2026, 2, 19, tzinfo=UTC)]
    assert old
    listed: list[dict[str, Any]] = []
    for method in ("FBR", "FBB"):
        page = 1
        while True:
            response = shipments_api.list_shipments(
                world, client, {"fulfilment-method": method, "page": str(page)}, "x"
            )
            entries = json.loads(response.body).get("shipments", [])
            if not entries:
                break
            listed += entries
            page += 1
    oldest = min(datetime.fromisoformat(e["shipmentDateTime"]) for e in listed).date()
    assert date(2026, 2, 20) <= oldest <= date(2026, 2, 22)
    assert {e["shipmentId"] for e in listed}.isdisjoint(s.shipment_id for s in old)
    assert shipments_api.get_shipment(world, client, old[0].shipment_id, "x").status == 200
