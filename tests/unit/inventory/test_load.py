"""The inventory load on both engines (DuckDB and PostgreSQL): idempotent, versioned by the list's day, EANs
bol no longer lists marked, the day's snapshot exactly the list, bad entries kept out, lineage on real changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bolsync.inventory.load import InventoryLoad, load_inventory_list
from bolsync.inventory.transform import inventory_rows
from bolsync.warehouse.connection import connect_warehouse, select_all
from bolsync.warehouse.lineage import Lineage

DAY = date(2026, 11, 20)


def entry(ean: str, regular: Any = 5, graded: Any = 0, title: str = "Mok") -> dict[str, Any]:
    return {"ean": ean, "bsku": f"B{ean}", "title": title, "regularStock": regular, "gradedStock": graded}


def load(conn, entries: list[dict[str, Any]], day: date = DAY, run: str = "run-1", **more: Any) -> InventoryLoad:
    lineage = Lineage("bol_inventory_daily", run, datetime.combine(day, datetime.min.time(), UTC))
    with conn.transaction():
        return load_inventory_list(conn, "R1", inventory_rows(entries), day, lineage=lineage, **more)


def inventory(conn) -> dict[str, tuple]:
    rows = conn.query(
        "SELECT ean, regular_stock, graded_stock, listed, unlisted_on, first_seen_on, last_seen_on, title "
        "FROM bol.inventory WHERE retailer_id = 'R1'"
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def snapshot(conn, day: date = DAY) -> dict[str, tuple]:
    rows = conn.query(
        "SELECT ean, regular_stock, graded_stock, carried_over FROM bol.inventory_snapshots "
        "WHERE retailer_id = 'R1' AND snapshot_date = ?",
        [day],
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def everything(conn) -> list[list[tuple]]:
    return [select_all(conn, f"bol.{t}", exclude=["first_synced_at"]) for t in ("inventory", "inventory_snapshots")]


@pytest.fixture
def conn(warehouse):
    with connect_warehouse(warehouse) as connection:
        yield connection


def test_a_list_lands_and_its_rerun_changes_nothing(conn) -> None:
    first = load(conn, [entry("A", 3, 1), entry("B", 0, 0)])
    assert (first.inventory.inserted, first.inventory.updated, first.snapshots.inserted, first.day_rows) == (2, 0, 2, 2)
    assert inventory(conn) == {
        "A": (3, 1, True, None, DAY, DAY, "Mok"),
        "B": (0, 0, True, None, DAY, DAY, "Mok"),
    }
    assert snapshot(conn) == {"A": (3, 1, False), "B": (0, 0, False)}
    before = everything(conn)
    again = load(conn, [entry("A", 3, 1), entry("B", 0, 0)], run="run-2")
    assert (again.inventory.inserted, again.inventory.updated, again.snapshots.inserted, again.snapshots.updated) == (
        0,
        0,
        0,
        0,
    )
    assert everything(conn) == before  # the lineage too: nothing really changed


def test_the_next_day_moves_the_stock_and_marks_a_small_clear_out(conn) -> None:
    load(conn, [entry(e) for e in "ABCD"])
    nextday = DAY + timedelta(days=1)
    result = load(conn, [entry("A", 9), entry("B"), entry("C")], nextday, run="run-2")
    assert (result.unlisted, result.held, result.inventory.updated) == (1, 0, 3)
    assert inventory(conn)["A"] == (9, 0, True, None, DAY, nextday, "Mok")
    assert inventory(conn)["D"] == (5, 0, False, nextday, DAY, DAY, "Mok")
    assert snapshot(conn) == {e: (5, 0, False) for e in "ABCD"}  # yesterday's stays as it was
    assert snapshot(conn, nextday) == {"A": (9, 0, False), "B": (5, 0, False), "C": (5, 0, False)}
    lineage = conn.query("SELECT synced_by_run_id FROM bol.inventory WHERE ean = 'D'")
    assert lineage == [("run-2",)]
    back = load(conn, [entry(e) for e in "ABCD"], nextday + timedelta(days=1), run="run-3")
    assert back.unlisted == 0
    assert inventory(conn)["D"][2:5] == (True, None, DAY)


def test_a_short_list_holds_its_deletions_and_keeps_the_snapshot_whole_until_confirmed(conn) -> None:
    every = [entry(f"E{n:03d}", n) for n in range(120)]
    load(conn, every)
    nextday = DAY + timedelta(days=1)
    held = load(conn, [entry("E000", 7)], nextday, run="run-2")
    assert held.check is not None
    assert held.check.held
    assert (held.check.evidence.live, held.check.evidence.named, held.check.evidence.missing) == (120, 1, 119)
    assert (held.unlisted, held.held, held.day_rows) == (0, 119, 120)
    assert all(row[2] for row in inventory(conn).values())  # every EAN still listed
    day_rows = snapshot(conn, nextday)
    assert day_rows["E000"] == (7, 0, False)
    assert day_rows["E042"] == (42, 0, True)  # carried over at its last known stock
    assert len(day_rows) == 120
    confirmed = load(conn, [entry("E000", 7)], nextday, run="run-3", confirmed=True)
    assert confirmed.check is not None
    assert confirmed.check.needs_confirmation
    assert not confirmed.check.held
    assert (confirmed.unlisted, confirmed.day_rows) == (119, 1)
    assert snapshot(conn, nextday) == {"E000": (7, 0, False)}


def test_an_empty_list_marks_nothing_whatever_the_size(conn) -> None:
    load(conn, [entry("A"), entry("B")])
    result = load(conn, [], DAY + timedelta(days=1), run="run-2")
    assert result.check is not None
    assert result.check.held
    assert "names none of the 2 live EANs" in result.check.reason()
    assert [row[2] for row in inventory(conn).values()] == [True, True]
    assert snapshot(conn, DAY + timedelta(days=1)) == {"A": (5, 0, True), "B": (5, 0, True)}


def test_a_held_entry_is_named_and_carried_over_and_an_entry_without_ean_marks_nothing(conn) -> None:
    load(conn, [entry("A", 1), entry("B", 2), entry("C", 3)])
    nextday = DAY + timedelta(days=1)
    bad = load(conn, [entry("A", 2**31), entry("B", 4), entry("N", 2**40)], nextday, run="run-2")
    assert (bad.unlisted, bad.inventory.inserted) == (1, 0)  # C is gone; A is listed, held; N never landed
    assert inventory(conn)["A"][:3] == (1, 0, True)
    assert snapshot(conn, nextday) == {"A": (1, 0, True), "B": (4, 0, False)}
    third = nextday + timedelta(days=1)
    unkeyed = load(conn, [entry("B", 5), {"regularStock": 1, "gradedStock": 0}], third, run="run-3")
    assert unkeyed.check is None
    assert unkeyed.unlisted == 0
    assert snapshot(conn, third) == {"A": (1, 0, True), "B": (5, 0, False)}


def test_an_older_list_loaded_late_never_takes_an_ean_back_in_time(conn) -> None:
    load(conn, [entry("A", 8)], DAY + timedelta(days=2))
    late = load(conn, [entry("A", 1), entry("B", 1)], DAY, run="run-0")
    assert inventory(conn)["A"] == (8, 0, True, None, DAY, DAY + timedelta(days=2), "Mok")
    assert late.unlisted == 0
    assert snapshot(conn) == {"A": (1, 0, False), "B": (1, 0, False)}
