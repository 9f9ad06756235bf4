"""One bad order never blocks its window: the load holds it in bol.quarantine and lands the rest, a rerun holds
it once, a later valid full order releases it (both engines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bolsync.orders.load import known_order_ids, load_staged_orders
from bolsync.orders.quality import check_orders_load, staged_keys
from bolsync.orders.spec import STREAM
from bolsync.runs import quarantine as quarantine_module
from bolsync.runs.quarantine import Quarantine, alert_new, open_records
from bolsync.runs.staging import read_ndjson
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync.warehouse.lineage import Lineage
from tests.unit.orders.test_load import _detail, _listed, _stage, _table
from tests.unit.orders.test_transform import PERSONAL, _order

CHANGED = "2026-11-20T10:00:00+01:00"
WINDOW = (datetime(2026, 11, 19, 23, tzinfo=UTC), datetime(2026, 11, 20, 23, tzinfo=UTC))
FIRST = Lineage("bol_orders_daily", "scheduled__first", datetime(2026, 11, 21, 3, tzinfo=UTC))
LATER = Lineage("bol_orders_daily", "scheduled__later", datetime(2026, 11, 22, 3, tzinfo=UTC))


def _scope(lineage: Lineage) -> Quarantine:
    return Quarantine(STREAM, "bol_shop", "42", lineage.dag_id, lineage.run_id, *WINDOW)


def _held(conn: Any) -> list[tuple]:
    return conn.query(
        "SELECT record_key, field, reason, raw_json, run_id, released_at IS NULL, released_by_run_id "
        "FROM bol.quarantine ORDER BY record_key"
    )


def _window(tmp: Path, name: str, bad_quantity: bool = True, bad_time: bool = True) -> Path:
    """Four new orders of one window: O1 and O4 fine, O2 a quantity beyond 32 bits, O3 no change time."""
    details = [_detail(f"O{n}") for n in range(1, 5)]
    if bad_quantity:
        details[1]["orderItems"][0]["quantity"] = 3_000_000_000
    if bad_time:
        del details[2]["orderItems"][1]["latestChangedDateTime"]
    listed = [_listed(f"O{n}", f"O{n}-0", CHANGED) for n in range(1, 5)]
    return _stage(tmp / name, details, listed)


@pytest.fixture
def database(warehouse: WarehouseTarget) -> WarehouseTarget:
    return warehouse


def test_bad_orders_are_held_whole_and_the_rest_of_the_window_lands(database, tmp_path) -> None:
    staging = _window(tmp_path, "run")
    with connect_warehouse(database) as conn:
        result = load_staged_orders(conn, "42", staging, lineage=FIRST, quarantine=_scope(FIRST))
        orders = [row[1] for row in _table(conn, "orders")]
        items = [row[2] for row in _table(conn, "order_items")]
        held = _held(conn)
        assert known_order_ids(conn, "42", ["O1", "O2", "O3"]) == {"O1"}
        note = check_orders_load(
            conn,
            conn_id="bol_shop",
            retailer_id="42",
            staged=staged_keys(
                read_ndjson(staging / "order_list.ndjson"),
                read_ndjson(staging / "order_details.ndjson"),
                result.held_ids,
                result.details_held,
            ),
            orders_upserted=result.orders.inserted,
            items_inserted=result.items.inserted,
        )
    assert note is None  # the quality checks pass without the held orders
    assert orders == ["O1", "O4"]
    assert items == ["O1-0", "O1-1", "O4-0", "O4-1"]  # nothing of O2/O3: neither detail nor list entry
    assert sorted(result.held_ids) == ["O2", "O3"] == sorted(result.details_held)
    assert [(key, field) for key, field, *_ in held] == [
        ("O2", "orderItems[0].quantity"),
        ("O3", "orderItems[1].latestChangedDateTime"),
    ]
    assert "order 'O2' item 'O2-0': quantity 3000000000 is outside INTEGER" in held[0][2]
    assert "order 'O3' item 'O3-1': latestChangedDateTime is missing" in held[1][2]
    assert json.loads(held[0][3])["orderItems"][0]["quantity"] == 3_000_000_000
    assert all(run == "scheduled__first" and still and by is None for *_, run, still, by in held)


def test_a_rerun_holds_the_same_records_once_and_lands_the_same_rows(database, tmp_path) -> None:
    staging = _window(tmp_path, "run")
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", staging, lineage=FIRST, quarantine=_scope(FIRST))
        before = (_table(conn, "orders"), _table(conn, "order_items"))
        first_seen = conn.query("SELECT record_key, first_seen_at FROM bol.quarantine ORDER BY 1")
        again = load_staged_orders(conn, "42", staging, lineage=FIRST, quarantine=_scope(FIRST))
        assert (_table(conn, "orders"), _table(conn, "order_items")) == before
        assert conn.query("SELECT record_key, first_seen_at FROM bol.quarantine ORDER BY 1") == first_seen
    assert (again.orders.inserted, again.orders.updated, again.items.inserted, again.items.updated) == (0, 0, 0, 0)
    assert len(again.held) == 2


def test_a_later_valid_full_order_lands_and_releases_it(database, tmp_path) -> None:
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _window(tmp_path, "bad"), lineage=FIRST, quarantine=_scope(FIRST))
        fixed = load_staged_orders(
            conn, "42", _window(tmp_path, "fixed", False, False), lineage=LATER, quarantine=_scope(LATER)
        )
        orders = [row[1] for row in _table(conn, "orders")]
        held = _held(conn)
        assert known_order_ids(conn, "42", ["O2", "O3"]) == {"O2", "O3"}
        assert Quarantine(STREAM, "bol_shop", "42", "d", "r").open_keys(conn) == set()
    assert orders == ["O1", "O2", "O3", "O4"]
    assert (fixed.released, fixed.held) == (2, [])
    assert [(key, still, by) for key, *_, still, by in held] == [
        ("O2", False, "scheduled__later"),
        ("O3", False, "scheduled__later"),
    ]


def test_a_bad_list_entry_holds_the_entry_and_a_valid_full_order_still_lands(database, tmp_path) -> None:
    known = _listed("K1", "K1-0", CHANGED)  # a known order: only its list entry comes, and it is bad
    known["orderItems"][0]["quantityShipped"] = "1"
    new = _listed("N1", "N1-0", "2026-11-20T10:00:00")  # no zone; its full order is fine
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _stage(tmp_path / "k", [_detail("K1")], []), lineage=FIRST)
        before = _table(conn, "order_items")
        stage = _stage(tmp_path / "s", [_detail("N1")], [known, new])
        result = load_staged_orders(conn, "42", stage, lineage=FIRST, quarantine=_scope(FIRST))
        items = {row[2]: row for row in _table(conn, "order_items")}
        assert known_order_ids(conn, "42", ["K1", "N1"]) == set()  # held: their details are fetched again
    assert sorted(result.held_ids) == ["K1", "N1"]
    assert result.details_held == set()
    assert [row for row in before if row[2] == "K1-0"] == [items["K1-0"]]  # the known order kept its state
    assert "N1-0" in items  # from its full order


def test_the_raw_record_never_holds_customer_data(database, tmp_path) -> None:
    order = _order()  # with shipment and billing details, as bol sends them
    order["orderId"] = "P1"
    order["orderItems"][0].update(latestChangedDateTime=CHANGED, quantity=2**40)
    order["orderItems"][1]["latestChangedDateTime"] = CHANGED
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _stage(tmp_path / "p", [order], []), lineage=FIRST, quarantine=_scope(FIRST))
        [(key, _, reason, raw, *_)] = _held(conn)
    assert key == "P1"
    assert json.loads(raw)["shipmentDetails"] == {"countryCode": "NL"}
    for value in PERSONAL:
        assert value not in raw
        assert value not in reason


def test_an_order_without_a_usable_id_is_held_by_a_hash_of_its_json(database, tmp_path) -> None:
    broken = _listed("O\x009", "O9-0", CHANGED)
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _stage(tmp_path / "a", [], [broken]), lineage=FIRST, quarantine=_scope(FIRST))
        load_staged_orders(conn, "42", _stage(tmp_path / "b", [], [broken]), lineage=FIRST, quarantine=_scope(FIRST))
        [(key, field, reason, raw, *_)] = _held(conn)
    assert key.startswith("unkeyed:")
    assert field == "orderId"
    assert "U+0000" in reason
    assert "O\\u00009" in raw


def test_a_released_record_held_again_is_a_new_episode(database, tmp_path) -> None:
    scope = _scope(FIRST)
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _window(tmp_path, "a", True, False), lineage=FIRST, quarantine=scope)
        conn.execute("UPDATE bol.quarantine SET alerted_at = first_seen_at")
        load_staged_orders(conn, "42", _window(tmp_path, "b", False, False), lineage=LATER, quarantine=_scope(LATER))
        load_staged_orders(conn, "42", _window(tmp_path, "c", True, False), lineage=LATER, quarantine=_scope(LATER))
        [(still, alerted, released_by)] = conn.query(
            "SELECT released_at IS NULL, alerted_at IS NULL, released_by_run_id FROM bol.quarantine"
        )
    assert (still, alerted, released_by) == (True, True, None)  # held again and alerted again


def test_new_records_are_alerted_once(database, tmp_path, monkeypatch) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(quarantine_module.alerts, "send", lambda alert, context: sent.append(alert) or True)
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _window(tmp_path, "run"), lineage=FIRST, quarantine=_scope(FIRST))
        assert alert_new(conn, STREAM, "bol_shop", {}) == 2
        load_staged_orders(conn, "42", _window(tmp_path, "run"), lineage=FIRST, quarantine=_scope(FIRST))
        assert alert_new(conn, STREAM, "bol_shop", {}) == 0  # the rerun holds the same records: no new alert
        assert [r.key for r in open_records(conn, STREAM, "bol_shop")] == ["O2", "O3"]
    [alert] = sent
    assert alert.subject == "[bolsync] orders of bol_shop: 2 record(s) held in quarantine"
    assert "- O2 (window 2026-11-19T23:00Z .. 2026-11-20T23:00Z" in alert.body
    assert "quantity 3000000000 is outside INTEGER" in alert.body
    assert "released_at IS NULL" in alert.body
    assert "bol_orders_daily / scheduled__first" in alert.body


def test_an_alert_that_could_not_be_sent_is_tried_again(database, tmp_path, monkeypatch) -> None:
    attempts: list[Any] = []
    monkeypatch.setattr(quarantine_module.alerts, "send", lambda alert, context: attempts.append(alert) and False)
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _window(tmp_path, "run"), lineage=FIRST, quarantine=_scope(FIRST))
        alert_new(conn, STREAM, "bol_shop", {})
        alert_new(conn, STREAM, "bol_shop", {})
    assert len(attempts) == 2
    assert attempts[0].key == attempts[1].key  # the same message: the dedupe claim stops a double send
