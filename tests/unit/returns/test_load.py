"""The returns load on both engines: versioned upserts, stable processing-result keys, the order item match view,
the quarantine, 404 marks and the scan state."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bolsync.returns.entries import without_personal_data
from bolsync.returns.extract import DETAIL, RETURNS_FILE
from bolsync.returns.load import MethodScanned, load_returns
from bolsync.returns.spec import RETURN_SCANS
from bolsync.runs.quarantine import Quarantine
from bolsync.runs.staging import NdjsonWriter
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, select_all
from bolsync.warehouse.lineage import Lineage
from tests.unit.returns.data import NOW, entry, item, result

RETAILER = "1"


def stage(folder: Path, reads: list[tuple[dict[str, Any], datetime, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with NdjsonWriter(folder / RETURNS_FILE, append=False) as out:
        for body, at, source in reads:
            out.write({"observed_at": at.isoformat(), "source": source, "return": without_personal_data(body)})
    return folder


def lineage(run: str, at: datetime = NOW) -> Lineage:
    return Lineage("bol_returns_hourly", run, at)


def table(conn: Any, name: str) -> list[tuple]:
    return select_all(conn, f"bol.{name}", exclude=["first_synced_at"])


@pytest.fixture
def database(warehouse: WarehouseTarget) -> WarehouseTarget:
    """Every test here runs on DuckDB and on PostgreSQL (see tests/support/warehouses.py)."""
    return warehouse


def test_a_run_lands_every_return_item_and_result_and_a_rerun_changes_nothing(
    database: WarehouseTarget, tmp_path: Path
) -> None:
    open_one = entry("R1", items=[item("R11")])
    handled = entry(
        "R2",
        NOW - timedelta(days=3),
        "FBB",
        [
            item("R21", results=[result(1)]),
            item("R22", "O2", quantity=3, results=[result(1), result(2, "REPAIR_PRODUCT")]),
        ],
    )
    detail = entry("R1", items=[item("R11", detail=True)])
    folder = stage(
        tmp_path / "a",
        [
            (open_one, NOW, "FBR unhandled p1"),
            (handled, NOW, "FBB handled p1"),
            (detail, NOW + timedelta(seconds=5), DETAIL),
        ],
    )
    with connect_warehouse(database) as conn:
        first = load_returns(conn, RETAILER, folder, lineage=lineage("run1"))
        assert (first.returns.inserted, first.items.inserted, first.results.inserted) == (2, 3, 3)
        returns = {
            row[0]: row for row in conn.query("SELECT return_id, handled, result_count, item_count FROM bol.returns")
        }
        assert returns == {"R1": ("R1", False, 0, 1), "R2": ("R2", True, 3, 2)}
        items = {
            row[0]: row[1:]
            for row in conn.query(
                "SELECT rma_id, title, track_and_trace, transporter_name, handled, processed_quantity, "
                "synced_by_run_id FROM bol.return_item_states"
            )
        }
        assert items["R11"] == ("Harry Potter", "3SBOLR000000001", "PostNL", False, 0, "run1")
        assert items["R22"] == (None, None, None, True, 3, "run1")
        before = {name: table(conn, name) for name in ("returns", "return_item_states", "return_processing_results")}
        again = load_returns(conn, RETAILER, folder, lineage=lineage("run2"))
        assert (again.returns.updated, again.items.updated, again.results.updated) == (0, 0, 0)
        assert {name: table(conn, name) for name in before} == before


def test_an_older_read_never_overwrites_a_newer_state(database: WarehouseTarget, tmp_path: Path) -> None:
    opened = entry("R1", items=[item("R11")])
    handled = entry("R1", items=[item("R11", results=[result(1)])])
    with connect_warehouse(database) as conn:
        load_returns(conn, RETAILER, stage(tmp_path / "new", [(handled, NOW, DETAIL)]), lineage=lineage("newer"))
        older = load_returns(conn, RETAILER, stage(tmp_path / "old", [(opened, NOW - timedelta(minutes=5), "p1")]))
        assert (older.items.updated, older.results.updated, older.returns.updated) == (0, 0, 0)
        assert conn.query("SELECT handled, result_count, synced_by_run_id FROM bol.return_item_states") == [
            (True, 1, "newer")
        ]
        assert conn.query("SELECT count(*) FROM bol.return_processing_results") == [(1,)]
        assert conn.query("SELECT handled FROM bol.returns") == [(True,)]
        # A later read of the same state changes no row (observed_at keeps when the state was first read).
        later = load_returns(conn, RETAILER, stage(tmp_path / "later", [(handled, NOW + timedelta(hours=1), "p1")]))
        assert (later.items.updated, later.returns.updated) == (0, 0)
        assert conn.query("SELECT observed_at FROM bol.return_item_states") == [(NOW,)]


def test_processing_result_keys_stay_when_bol_adds_a_result(database: WarehouseTarget, tmp_path: Path) -> None:
    first = result(1, "RETURN_RECEIVED", NOW - timedelta(hours=2))
    second = result(1, "RETURN_DOES_NOT_MEET_CONDITIONS", NOW - timedelta(hours=1))
    # bol lists its results newest first in the second read: the numbers go by processing time anyway.
    reads = [
        (entry("R1", items=[item("R11", quantity=2, results=[first])]), NOW - timedelta(hours=2), "p1"),
        (entry("R1", items=[item("R11", quantity=2, results=[second, first])]), NOW, "p1"),
    ]
    with connect_warehouse(database) as conn:
        load_returns(conn, RETAILER, stage(tmp_path / "a", reads[:1]), lineage=lineage("a"))
        stamped = conn.query("SELECT first_synced_at FROM bol.return_processing_results WHERE result_number = 1")
        added = load_returns(conn, RETAILER, stage(tmp_path / "b", reads[1:]), lineage=lineage("b"))
        assert (added.results.inserted, added.results.updated) == (1, 0)
        rows = conn.query(
            "SELECT result_number, handling_result, synced_by_run_id, first_synced_at "
            "FROM bol.return_processing_results ORDER BY result_number"
        )
        assert [row[:3] for row in rows] == [(1, "RETURN_RECEIVED", "a"), (2, "RETURN_DOES_NOT_MEET_CONDITIONS", "b")]
        assert rows[0][3] == stamped[0][0]


def test_a_changed_handling_result_replaces_the_result_in_place(database: WarehouseTarget, tmp_path: Path) -> None:
    at = NOW - timedelta(hours=1)
    reads = [
        (
            entry("R1", items=[item("R11", results=[result(1, "RETURN_RECEIVED", at)])]),
            NOW - timedelta(minutes=30),
            "p1",
        ),
        (entry("R1", items=[item("R11", results=[result(1, "EXCHANGE_PRODUCT", at)])]), NOW, "p1"),
    ]
    with connect_warehouse(database) as conn:
        load_returns(conn, RETAILER, stage(tmp_path / "a", reads[:1]))
        changed = load_returns(conn, RETAILER, stage(tmp_path / "b", reads[1:]))
        assert changed.results.updated == 1
        assert conn.query("SELECT handling_result FROM bol.return_processing_results") == [("EXCHANGE_PRODUCT",)]
        assert changed.returns.updated == 1  # its state fingerprint


def test_a_list_read_keeps_what_only_the_detail_gives(database: WarehouseTarget, tmp_path: Path) -> None:
    detail = entry("R1", items=[item("R11", detail=True)])
    listed = entry("R1", items=[item("R11", results=[result(1)])])
    with connect_warehouse(database) as conn:
        load_returns(conn, RETAILER, stage(tmp_path / "a", [(detail, NOW - timedelta(hours=1), DETAIL)]))
        load_returns(conn, RETAILER, stage(tmp_path / "b", [(listed, NOW, "p1")]))
        assert conn.query("SELECT title, track_and_trace, transporter_name, handled FROM bol.return_item_states") == [
            ("Harry Potter", "3SBOLR000000001", "PostNL", True)
        ]


def _order_items(conn: Any, rows: list[tuple[str, str, str]]) -> None:
    frame = pd.DataFrame(
        {
            "retailer_id": RETAILER,
            "order_id": [r[0] for r in rows],
            "order_item_id": [r[1] for r in rows],
            "ean": [r[2] for r in rows],
            "latest_changed_at": pd.Series([NOW] * len(rows), dtype="datetime64[us, UTC]"),
        }
    ).astype({c: "string" for c in ("retailer_id", "order_id", "order_item_id", "ean")})
    conn.merge("bol.order_items", frame, ("retailer_id", "order_item_id"), inserted_only={"first_synced_at": "now()"})


def test_the_return_items_view_names_the_order_item_or_why_not(database: WarehouseTarget, tmp_path: Path) -> None:
    reads = [
        (entry("R1", items=[item("R11", "O1", "E1"), item("R12", "O2", "E2"), item("R13", "O3", "E3")]), NOW, "p1"),
        (entry("R2", items=[item("R21", "O4", "E9")]), NOW, "p1"),
    ]
    with connect_warehouse(database) as conn:
        _order_items(conn, [("O1", "I1", "E1"), ("O1", "I2", "E5"), ("O2", "I3", "E2"), ("O2", "I4", "E2")])
        _order_items(conn, [("O4", "I6", "E4")])
        load_returns(conn, RETAILER, stage(tmp_path / "a", reads))

        def matches() -> dict[str, tuple]:
            rows = conn.query("SELECT rma_id, order_item_id, order_match, registered_at FROM bol.return_items")
            return {row[0]: row[1:3] for row in rows}

        assert matches() == {
            "R11": ("I1", "matched"),
            "R12": (None, "several_items_with_ean"),
            "R13": (None, "order_not_in_warehouse"),
            "R21": (None, "no_item_with_ean"),
        }
        _order_items(conn, [("O3", "I5", "E3")])  # the order arrives after its return: the match follows
        assert matches()["R13"] == ("I5", "matched")


def test_a_bad_return_is_held_and_the_rest_lands_then_released(database: WarehouseTarget, tmp_path: Path) -> None:
    bad = entry("R1", items=[item("R11")])
    bad["returnItems"][0]["expectedQuantity"] = 2**40
    good = entry("R2")
    quarantine = Quarantine("returns", "bol_shop", RETAILER, "bol_returns_hourly", "run1")
    with connect_warehouse(database) as conn:
        loaded = load_returns(conn, RETAILER, stage(tmp_path / "a", [(bad, NOW, "p1"), (good, NOW, "p1")]),
                              quarantine=quarantine)  # fmt: skip
        assert loaded.held_ids == {"R1"}
        assert conn.query("SELECT return_id FROM bol.returns") == [("R2",)]
        held = conn.query("SELECT record_key, field, reason, raw_json FROM bol.quarantine WHERE released_at IS NULL")
        assert [(key, field) for key, field, _, _ in held] == [("R1", "returnItems[0].expectedQuantity")]
        assert "outside INTEGER" in held[0][2]
        assert "customerComments" not in held[0][3]
        assert "Doos" not in held[0][3]
        fixed = load_returns(conn, RETAILER, stage(tmp_path / "b", [(entry("R1"), NOW, "p1")]), quarantine=quarantine)
        assert fixed.released == 1
        assert conn.query("SELECT count(*) FROM bol.quarantine WHERE released_at IS NULL") == [(0,)]


def test_a_return_answering_404_is_marked_until_listed_again(database: WarehouseTarget, tmp_path: Path) -> None:
    with connect_warehouse(database) as conn:
        load_returns(conn, RETAILER, stage(tmp_path / "a", [(entry("R1"), NOW - timedelta(hours=2), "p1")]))
        gone = NOW - timedelta(hours=1)
        marked = load_returns(conn, RETAILER, stage(tmp_path / "b", []), not_found={"R1": gone.isoformat()})
        assert marked.marked_not_found == 1
        assert conn.query("SELECT not_found_at FROM bol.returns") == [(gone,)]
        load_returns(conn, RETAILER, stage(tmp_path / "c", [(entry("R1"), NOW, "p1")]))
        assert conn.query("SELECT not_found_at FROM bol.returns") == [(None,)]


def test_the_scan_state_moves_forward_for_complete_scans_only(database: WarehouseTarget, tmp_path: Path) -> None:
    empty = stage(tmp_path / "a", [])
    later, earlier = NOW, NOW - timedelta(hours=1)
    with connect_warehouse(database) as conn:
        load_returns(conn, RETAILER, empty, scans=[MethodScanned("FBR", later, True, False),
                                                   MethodScanned("FBB", later, False, False)])  # fmt: skip
        load_returns(conn, RETAILER, empty, scans=[MethodScanned("FBR", earlier, True, True)])
        rows = conn.query(
            f"SELECT fulfilment_method, last_scan_started_at, last_full_scan_started_at FROM {RETURN_SCANS}"
        )
        assert rows == [("FBR", later, earlier)]
