"""World changes, ground truth, stats, seeded determinism and the generated data's realism."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bol_emulator.world import World
from tests.emulator.conftest import CLIENT_B, Api, small_config

TRUTH_KEYS = {
    "retailer_id",
    "order_id",
    "order_item_id",
    "ean",
    "quantity",
    "quantity_shipped",
    "quantity_cancelled",
    "fulfilment_method",
    "fulfilment_status",
    "cancellation_request",
    "latest_changed_at",
    "order_placed_at",
    "unit_price",
    "commission",
    "offer_id",
    "offer_reference",
    "product_title",
}


def listed_items(api: Api, **params: str) -> dict[str, dict]:
    return {i["orderItemId"]: i for o in api.all_orders(**params) for i in o["orderItems"]}


def test_ground_truth_rows(api: Api) -> None:
    rows = api.truth()
    assert rows
    assert all(set(row) == TRUTH_KEYS for row in rows)
    assert {row["retailer_id"] for row in rows} == {"1000001"}
    now = datetime.now(UTC)
    for row in rows:
        assert row["latest_changed_at"].endswith("+00:00")
        assert row["order_placed_at"].endswith("+00:00")
        assert datetime.fromisoformat(row["order_placed_at"]) <= datetime.fromisoformat(row["latest_changed_at"])
        assert datetime.fromisoformat(row["latest_changed_at"]) <= now
    assert api.control("GET", "/accounts/nobody/order-items").status_code == 404


def test_new_orders_appear_in_the_list_and_ground_truth(api: Api) -> None:
    result = api.world("new_orders", 3)
    assert len(result["order_ids"]) == 3
    assert len(result["order_item_ids"]) >= 3
    listed = listed_items(api, **{"fulfilment-method": "ALL", "status": "OPEN", "change-interval-minute": "1"})
    assert set(result["order_item_ids"]) <= set(listed)
    first_page = api.orders(**{"fulfilment-method": "ALL"}).json()["orders"]
    assert {o["orderId"] for o in first_page[:3]} == set(result["order_ids"])  # newest first
    truth = {row["order_item_id"]: row for row in api.truth()}
    for item_id in result["order_item_ids"]:
        assert truth[item_id]["fulfilment_status"] == "OPEN"
        assert truth[item_id]["quantity_shipped"] == truth[item_id]["quantity_cancelled"] == 0


def test_ship_cancel_and_cancellation_request(api: Api) -> None:
    shipped = api.world("ship", 2)["order_item_ids"]
    cancelled = api.world("cancel", 1)["order_item_ids"]
    requested = api.world("cancellation_request", 1)["order_item_ids"]
    assert len(shipped) == 2
    assert len(cancelled) == 1
    assert len(requested) == 1
    truth = {row["order_item_id"]: row for row in api.truth()}
    for item_id in shipped:
        row = truth[item_id]
        assert row["fulfilment_status"] == "HANDLED"
        assert row["quantity_shipped"] + row["quantity_cancelled"] == row["quantity"]
    assert truth[cancelled[0]]["fulfilment_status"] == "HANDLED"
    assert truth[cancelled[0]]["quantity_cancelled"] > 0
    assert truth[requested[0]]["cancellation_request"] is True
    assert truth[requested[0]]["fulfilment_status"] == "OPEN"
    recent = listed_items(api, **{"fulfilment-method": "ALL", "status": "ALL", "change-interval-minute": "1"})
    for item_id in shipped + cancelled + requested:
        assert recent[item_id]["fulfilmentStatus"] == truth[item_id]["fulfilment_status"]
        assert recent[item_id]["quantityShipped"] == truth[item_id]["quantity_shipped"]
    shipped_list = listed_items(api, **{"fulfilment-method": "ALL", "status": "SHIPPED"})
    assert set(shipped) <= set(shipped_list)
    open_list = listed_items(api, **{"fulfilment-method": "ALL"})
    assert not set(shipped) & set(open_list)
    assert recent[requested[0]]["cancellationRequest"] is True


def test_world_actions_on_given_items(api: Api) -> None:
    open_item = next(r for r in api.truth() if r["fulfilment_status"] == "OPEN")
    result = api.world("ship", order_item_ids=[open_item["order_item_id"]])
    assert result == {"order_item_ids": [open_item["order_item_id"]], "order_ids": [open_item["order_id"]]}
    again = api.control(
        "POST",
        "/world",
        json={"client_id": "demo-client-a", "action": "ship", "order_item_ids": [open_item["order_item_id"]]},
    )
    assert again.status_code == 400
    bad = api.control("POST", "/world", json={"client_id": "demo-client-a", "action": "explode"})
    assert bad.status_code == 400
    assert api.control("POST", "/world", json={"client_id": "x", "action": "ship"}).status_code == 404


def test_list_is_live_between_pages(big_api: Api) -> None:
    params = {"fulfilment-method": "ALL", "status": "ALL"}
    page1 = big_api.orders(page=1, **params).json()["orders"]
    big_api.world("new_orders", 5)
    page2 = big_api.orders(page=2, **params).json()["orders"]
    # five new orders pushed five orders of page 1 onto page 2
    assert [o["orderId"] for o in page2[:5]] == [o["orderId"] for o in page1[-5:]]


def test_stats(api: Api) -> None:
    api.control("POST", "/stats/reset")
    other = Api(api.handle, CLIENT_B)
    api.orders()
    api.orders(page="x")
    api.get("/retailer/orders/NOPE")
    other.orders()
    api.session.get(api.handle.base_url + "/retailer/orders")  # no token
    stats = api.control("GET", "/stats").json()
    assert stats["token_requests"] == {"demo-client-a": 1, "demo-client-b": 1}
    assert stats["requests"]["GET /retailer/orders"] == {"200": 2, "400": 1, "401": 1}
    assert stats["requests"]["GET /retailer/orders/{order-id}"] == {"404": 1}
    assert stats["requests"]["POST /token"] == {"200": 2}
    assert stats["requests_by_client"] == {"demo-client-a": 3, "demo-client-b": 1}
    assert stats["max_requests_in_1s"]["demo-client-a"] in (1, 2, 3)
    assert stats["throttled"] == {}
    reset = api.control("POST", "/stats/reset").json()
    assert reset["requests"] == {}
    assert reset["token_requests"] == {}


def test_max_requests_in_one_second_under_concurrency(api: Api) -> None:
    api.control("POST", "/stats/reset")
    token = api.token

    def burst() -> None:
        session = Api(api.handle)
        session._token = token
        for _ in range(5):
            session.orders()

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = api.control("GET", "/stats").json()
    assert stats["requests_by_client"] == {"demo-client-a": 20}
    assert 2 <= stats["max_requests_in_1s"]["demo-client-a"] <= 20
    assert stats["requests"]["GET /retailer/orders"] == {"200": 20}


def _stable(rows: list[dict]) -> list[tuple]:
    return [tuple(v for k, v in sorted(row.items()) if not k.endswith("_at")) for row in rows]


def test_same_seed_same_world() -> None:
    config = small_config()
    first, second = World(config), World(config)
    for client in ("demo-client-a", "demo-client-b"):
        a, b = first.ground_truth(client), second.ground_truth(client)
        assert _stable(a) == _stable(b)
        offsets_a = [first.generated_at - datetime.fromisoformat(r["order_placed_at"]) for r in a]
        offsets_b = [second.generated_at - datetime.fromisoformat(r["order_placed_at"]) for r in b]
        assert offsets_a == offsets_b
    assert _stable(World(small_config(seed=8)).ground_truth("demo-client-a")) != _stable(
        first.ground_truth("demo-client-a")
    )


def test_accounts_have_their_own_data_and_unique_ids() -> None:
    world = World(small_config())
    a, b = world.ground_truth("demo-client-a"), world.ground_truth("demo-client-b")
    assert not {r["order_id"] for r in a} & {r["order_id"] for r in b}
    item_ids = [r["order_item_id"] for r in a + b]
    assert len(item_ids) == len(set(item_ids))
    # an account's data depends on seed + retailer id only, not on the other accounts
    alone = World(
        EmulatorConfig(seed=7, orders_per_day=12, history_days=10, accounts=[AccountConfig("solo", "s", "1000002")])
    )
    assert _stable(alone.ground_truth("solo")) == _stable(b)


def test_generated_data_is_realistic() -> None:
    world = World(EmulatorConfig(seed=3))
    rows = world.ground_truth("demo-client-a")
    assert len({r["order_id"] for r in rows}) == 40 * 30
    methods = Counter(r["fulfilment_method"] for r in rows)
    assert 0.6 < methods["FBR"] / len(rows) < 0.8
    assert any(r["fulfilment_status"] == "OPEN" and 0 < r["quantity_shipped"] < r["quantity"] for r in rows)
    assert any(r["quantity_cancelled"] > 0 and r["cancellation_request"] for r in rows)
    assert any(r["quantity_shipped"] > 0 and r["quantity_cancelled"] > 0 for r in rows)
    assert Counter(Counter(r["order_id"] for r in rows).values()).keys() >= {1, 2, 3}
    assert {r["quantity"] for r in rows} == {1, 2, 3, 4}
    for row in rows[:200]:
        assert re.fullmatch(r"\d{13}", row["ean"])
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", row["offer_id"])
        assert round(row["unit_price"], 2) == row["unit_price"]
        assert row["unit_price"] > 0
        assert len(row["order_id"]) == 10


def test_accounts_file_and_per_account_volume(tmp_path) -> None:
    from bol_emulator.config import load_accounts

    path = tmp_path / "accounts.json"
    path.write_text('[{"client_id": "c1", "client_secret": "s1", "retailer_id": "42", "orders_per_day": 2}]')
    accounts = load_accounts(str(path))
    with start_emulator(EmulatorConfig(accounts=accounts, history_days=3)) as handle:
        api = Api(handle, ("c1", "s1"))
        assert len({r["order_id"] for r in api.truth("c1")}) == 6
        assert api.orders(**{"fulfilment-method": "ALL", "status": "ALL"}).status_code == 200
        assert api.control("GET", "/accounts").json()[0]["client_id"] == "c1"


def test_reset_restores_the_seeded_start(api: Api) -> None:
    before = api.truth()
    token = api.token
    api.world("ship", 3)
    api.fault(kind="inactive", client_id="demo-client-a")
    api.control("POST", "/config", json={"rate_scale": 3})
    time.sleep(1.05)  # a regenerated world would now carry other timestamps
    assert api.control("POST", "/reset").json() == {"status": "ok"}
    assert api.truth() == before
    assert api.control("GET", "/faults").json()["inactive"] == []
    assert api.control("GET", "/config").json()["rate_scale"] == 100.0
    assert api.control("GET", "/stats").json()["requests"] == {}
    assert api.get("/retailer/orders", token=token).status_code == 200  # same signing key


def test_ratelimit_windows_reset() -> None:
    with start_emulator(small_config(rate_scale=0.04)) as handle:  # 1 list call per minute
        api = Api(handle)
        assert api.orders().status_code == 200
        assert api.orders().status_code == 429
        assert api.control("POST", "/ratelimits/reset").status_code == 200
        assert api.orders().status_code == 200


def test_non_numeric_retailer_ids_work() -> None:
    world = World(EmulatorConfig(history_days=1, accounts=[AccountConfig("x", "y", "shop-nl")]))
    assert world.ground_truth("x")[0]["retailer_id"] == "shop-nl"
