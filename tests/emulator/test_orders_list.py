"""GET /retailer/orders: auth, media type, paging, filters and their validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta

from bol_emulator import EmulatorHandle
from tests.emulator.conftest import V10, Api

AMS = ZoneInfo("Europe/Amsterdam")
ISO_AMS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$"


def amsterdam_today() -> date:
    return datetime.now(AMS).date()


def items_of(orders: list[dict]) -> list[dict]:
    return [item for order in orders for item in order["orderItems"]]


def test_missing_and_invalid_tokens_are_401(api: Api, emulator: EmulatorHandle) -> None:
    response = api.session.get(emulator.base_url + "/retailer/orders", headers={"Accept": V10})
    assert response.status_code == 401
    body = response.json()
    assert body["title"] == "Unauthorized"
    assert body["status"] == 401
    assert api.get("/retailer/orders", token="not.a.jwt").status_code == 401
    assert "X-RateLimit-Limit" in response.headers


@pytest.mark.parametrize("accept", ["application/json", "application/vnd.retailer.v9+json", "text/csv"])
def test_wrong_accept_is_406(api: Api, accept: str) -> None:
    response = api.get("/retailer/orders", accept=accept)
    assert response.status_code == 406
    assert response.json()["status"] == 406
    assert "X-RateLimit-Reset" in response.headers


@pytest.mark.parametrize("accept", [V10, f"{V10};charset=UTF-8", "*/*", f"application/json;q=0.5, {V10}"])
def test_acceptable_accept_headers(api: Api, accept: str) -> None:
    assert api.get("/retailer/orders", accept=accept).status_code == 200


def test_pages_of_50_orders_and_empty_end_page(big_api: Api) -> None:
    first = big_api.orders(**{"fulfilment-method": "ALL", "status": "ALL"})
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/vnd.retailer.v10+json;charset=UTF-8"
    assert len(first.json()["orders"]) == 50
    orders = big_api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"})
    assert len(orders) > 100
    assert len({o["orderId"] for o in orders}) == len(orders)
    pages = -(-len(orders) // 50)
    end = big_api.orders(page=pages + 1, **{"fulfilment-method": "ALL", "status": "ALL"})
    assert end.status_code == 200
    assert end.content == b"{}"
    assert end.headers["Content-Type"] == "application/vnd.retailer.v10+json;charset=UTF-8"
    placed = [(datetime.fromisoformat(o["orderPlacedDateTime"]), o["orderId"]) for o in orders]
    assert placed == sorted(placed, key=lambda p: (-p[0].timestamp(), p[1]))


def test_reduced_items_have_every_required_field(big_api: Api) -> None:
    required = {
        "orderItemId",
        "ean",
        "fulfilmentMethod",
        "fulfilmentStatus",
        "quantity",
        "quantityShipped",
        "quantityCancelled",
        "cancellationRequest",
        "latestChangedDateTime",
    }
    now = datetime.now(UTC)
    for order in big_api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"}):
        assert order["orderPlacedDateTime"][-6:] in ("+01:00", "+02:00")
        placed = datetime.fromisoformat(order["orderPlacedDateTime"])
        for item in order["orderItems"]:
            assert set(item) == required
            assert len(item["ean"]) == 13
            assert item["ean"].isdigit()
            changed = datetime.fromisoformat(item["latestChangedDateTime"])
            assert placed <= changed <= now
            assert item["quantityShipped"] + item["quantityCancelled"] <= item["quantity"]
            handled = item["quantityShipped"] + item["quantityCancelled"] == item["quantity"]
            assert item["fulfilmentStatus"] == ("HANDLED" if handled else "OPEN")


def test_defaults_are_fbr_and_open(big_api: Api) -> None:
    default = items_of(big_api.all_orders())
    explicit = items_of(big_api.all_orders(**{"fulfilment-method": "FBR", "status": "OPEN"}))
    assert default == explicit
    assert default
    assert {(i["fulfilmentMethod"], i["fulfilmentStatus"]) for i in default} == {("FBR", "OPEN")}
    everything = items_of(big_api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"}))
    assert {i["fulfilmentMethod"] for i in everything} == {"FBR", "FBB"}
    assert {i["fulfilmentStatus"] for i in everything} == {"OPEN", "HANDLED"}
    assert len(everything) > len(default)


def test_status_and_method_filters(big_api: Api) -> None:
    shipped = items_of(big_api.all_orders(**{"fulfilment-method": "ALL", "status": "SHIPPED"}))
    assert shipped
    assert all(i["fulfilmentStatus"] == "HANDLED" and i["quantityShipped"] > 0 for i in shipped)
    fbb = items_of(big_api.all_orders(**{"fulfilment-method": "FBB", "status": "ALL"}))
    assert fbb
    assert all(i["fulfilmentMethod"] == "FBB" for i in fbb)


def test_without_date_filters_handled_items_are_from_the_last_48_hours(big_api: Api) -> None:
    cutoff = datetime.now(UTC) - timedelta(hours=48, minutes=1)
    for item in items_of(big_api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL"})):
        if item["fulfilmentStatus"] == "HANDLED":
            assert datetime.fromisoformat(item["latestChangedDateTime"]) >= cutoff


def test_orders_list_only_their_matching_items(big_api: Api, big_emulator: EmulatorHandle) -> None:
    truth = {row["order_item_id"]: row for row in big_api.truth()}
    per_order: dict[str, int] = {}
    for row in truth.values():
        per_order[row["order_id"]] = per_order.get(row["order_id"], 0) + 1
    mixed = 0
    for order in big_api.all_orders(**{"fulfilment-method": "FBB", "status": "ALL"}):
        for item in order["orderItems"]:
            assert truth[item["orderItemId"]]["order_id"] == order["orderId"]
        mixed += len(order["orderItems"]) < per_order[order["orderId"]]
    assert mixed > 0  # some orders mix FBR and FBB items; only the FBB ones are listed


def test_latest_change_date_matches_ground_truth(big_api: Api) -> None:
    day = amsterdam_today() - timedelta(days=3)
    listed = items_of(
        big_api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL", "latest-change-date": day.isoformat()})
    )
    expected = {
        row["order_item_id"]
        for row in big_api.truth()
        if datetime.fromisoformat(row["latest_changed_at"]).astimezone(AMS).date() == day
    }
    assert expected
    assert {i["orderItemId"] for i in listed} == expected


def test_latest_change_date_is_an_amsterdam_date(api: Api, emulator: EmulatorHandle) -> None:
    item_id = api.truth()[0]["order_item_id"]
    utc_day = datetime.now(UTC).date() - timedelta(days=2)
    late_evening = datetime(utc_day.year, utc_day.month, utc_day.day, 23, 30, tzinfo=UTC)
    emulator.world.touch("demo-client-a", item_id, late_evening)
    params = {"fulfilment-method": "ALL", "status": "ALL"}

    def ids_on(day: date) -> set[str]:
        return {i["orderItemId"] for i in items_of(api.all_orders(**params, **{"latest-change-date": day.isoformat()}))}

    assert item_id not in ids_on(utc_day)
    assert item_id in ids_on(utc_day + timedelta(days=1))
    listed = next(
        i
        for i in items_of(api.all_orders(**params, **{"latest-change-date": str(utc_day + timedelta(1))}))
        if i["orderItemId"] == item_id
    )
    assert listed["latestChangedDateTime"].startswith(f"{utc_day + timedelta(days=1)}T0")


def test_latest_change_date_history_is_three_months(api: Api) -> None:
    oldest = amsterdam_today() - relativedelta(months=3)
    assert api.orders(**{"latest-change-date": oldest.isoformat()}).status_code == 200
    too_old = api.orders(**{"latest-change-date": (oldest - timedelta(days=1)).isoformat()})
    assert too_old.status_code == 400
    body = too_old.json()
    assert body["title"].startswith("Error validating request")
    assert body["violations"][0]["name"] == "latest-change-date"


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "20250101", "", "tomorrow"])
def test_bad_latest_change_dates_are_400(api: Api, value: str) -> None:
    if value == "tomorrow":
        value = (amsterdam_today() + timedelta(days=1)).isoformat()
    response = api.orders(**{"latest-change-date": value})
    assert response.status_code == 400
    assert response.json()["violations"][0]["name"] == "latest-change-date"


@pytest.mark.parametrize(("value", "status"), [("1", 200), ("60", 200), ("0", 400), ("61", 400), ("x", 400)])
def test_change_interval_bounds(api: Api, value: str, status: int) -> None:
    response = api.orders(**{"change-interval-minute": value})
    assert response.status_code == status
    if status == 400:
        assert response.json()["violations"] == [
            {"name": "change-interval-minute", "reason": response.json()["violations"][0]["reason"]}
        ]


def test_change_interval_returns_recent_changes(api: Api) -> None:
    changed = set(api.world("ship", 2)["order_item_ids"])
    listed = items_of(api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL", "change-interval-minute": 1}))
    assert changed <= {i["orderItemId"] for i in listed}
    cutoff = datetime.now(UTC) - timedelta(minutes=1, seconds=2)
    assert all(datetime.fromisoformat(i["latestChangedDateTime"]) >= cutoff for i in listed)


def test_both_date_filters_at_once_is_400(api: Api) -> None:
    response = api.orders(**{"change-interval-minute": 5, "latest-change-date": amsterdam_today().isoformat()})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "two"),
        ("fulfilment-method", "fbr"),
        ("status", "CLOSED"),
        ("vvb-only", "maybe"),
    ],
)
def test_invalid_parameters_are_400_with_violations(api: Api, name: str, value: str) -> None:
    response = api.orders(**{name: value})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(V10)
    body = response.json()
    assert body["type"] == "https://api.bol.com/problems"
    assert body["status"] == 400
    assert [v["name"] for v in body["violations"]] == [name]
    assert value in body["violations"][0]["reason"]


def test_vvb_only(big_api: Api) -> None:
    vvb = big_api.all_orders(**{"fulfilment-method": "ALL", "status": "ALL", "vvb-only": "true"})
    assert vvb
    assert all(i["fulfilmentMethod"] == "FBR" for i in items_of(vvb))
    assert big_api.orders(**{"fulfilment-method": "FBB", "vvb-only": "true"}).content == b"{}"
