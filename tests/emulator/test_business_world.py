"""The business streams as a whole: seeded determinism, accounts kept apart, reset, and the control calls' errors."""

from __future__ import annotations

from datetime import UTC, datetime

from bol_emulator.business_truth import TABLES
from tests.emulator.business_helpers import movable_world, table
from tests.emulator.conftest import CLIENT_B, Api


def test_same_seed_and_anchor_same_business() -> None:
    anchor = datetime(2026, 4, 20, 9, tzinfo=UTC)
    first, _ = movable_world(anchor)
    second, _ = movable_world(anchor)
    other, _ = movable_world(anchor, seed=8)
    for client in ("demo-client-a", "demo-client-b"):
        for name, build in TABLES.items():
            rows = first.business.read(client, lambda state, _, b=build: b(state))
            assert rows, name
            assert rows == second.business.read(client, lambda state, _, b=build: b(state)), name
    assert first.business.read("demo-client-a", lambda s, _: TABLES["shipments"](s)) != other.business.read(
        "demo-client-a", lambda s, _: TABLES["shipments"](s)
    )


def test_every_table_is_served_and_accounts_stay_apart(api: Api) -> None:
    for name in TABLES:
        rows = table(api, name)
        assert rows, name
        assert {row["retailer_id"] for row in rows} == {"1000001"}
        assert api.control("GET", f"/accounts/nobody/{name}").status_code == 404
    other = Api(api.handle, CLIENT_B)
    for name, path in (("shipments", "shipment_id"), ("returns", "return_id"), ("invoices", "invoice_id")):
        foreign = table(api, name, CLIENT_B[0])[0][path]
        assert api.get(f"/retailer/{name}/{foreign}").status_code == 404
        assert other.get(f"/retailer/{name}/{foreign}").status_code == 200


def test_reset_forgets_business_changes(api: Api) -> None:
    before = table(api, "returns")
    api.world("register_return", 2)
    assert len(table(api, "returns")) == len(before) + 2
    api.handle.reset()
    assert table(api, "returns") == before


def test_an_unknown_action_names_every_action(api: Api) -> None:
    response = api.control("POST", "/world", json={"client_id": "demo-client-a", "action": "register_returns"})
    assert response.status_code == 400
    message = response.json()["error"]
    assert "'register_returns'" in message
    assert "register_return," in message
    assert "new_orders" in message


def test_a_world_without_history_has_no_shipments_returns_or_invoices_yet() -> None:
    world, _ = movable_world(datetime(2026, 4, 20, 9, tzinfo=UTC), history_days=0)
    for name in ("shipments", "returns", "invoices", "invoice-lines"):
        assert world.business.read("demo-client-a", lambda state, _, n=name: TABLES[n](state)) == []
    assert world.business.read("demo-client-a", lambda state, _: TABLES["inventory"](state))
