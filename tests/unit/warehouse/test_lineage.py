"""Lineage columns on both engines: set on insert and on a real change only, never counted as a change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bolsync.offers.load import load_offer_list
from bolsync.offers.transform import parse_export_csv
from bolsync.orders.load import load_staged_orders
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, select_all
from bolsync.warehouse.lineage import COLUMNS, Lineage
from tests.unit.offers.test_offer_load import _export, listing
from tests.unit.orders.test_load import _detail, _listed, _stage

FIRST = Lineage("bol_orders_daily", "scheduled__2026-11-20T23:00:00+00:00", datetime(2026, 11, 21, 1, tzinfo=UTC))
RERUN = Lineage("bol_orders_daily", "manual__2026-11-22T08:00:00+00:00", datetime(2026, 11, 22, 8, tzinfo=UTC))
CHANGE = Lineage("bol_orders_hourly", "it's-a-run", datetime(2026, 11, 22, 9, 30, tzinfo=UTC))


def _lineage(conn, table: str, key: str) -> dict[str, tuple]:
    rows = conn.query(f"SELECT {key}, {', '.join(COLUMNS)} FROM bol.{table}")
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _marks(lineage: Lineage) -> tuple:
    return (lineage.dag_id, lineage.run_id, lineage.extracted_at)


def _everything(conn) -> list[list[tuple]]:
    tables = [select_all(conn, f"bol.{t}") for t in ("orders", "order_items", "offer_snapshots")]
    offers = select_all(conn, "bol.offers", exclude=["extra"])  # PostgreSQL cannot sort JSON
    extras = conn.query("SELECT offer_id, CAST(extra AS VARCHAR) FROM bol.offers ORDER BY 1")
    return [*tables, offers, extras]


def test_orders_lineage_first_run_rerun_and_one_change(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    changed = "2026-11-20T10:00:00+01:00"
    listed = [_listed("O1", "O1-0", changed), _listed("O2", "O2-0", changed)]
    first = _stage(tmp_path / "a", [_detail("O1", changed), _detail("O2", changed)], listed)
    with connect_warehouse(warehouse) as conn:
        load_staged_orders(conn, "1", first, lineage=FIRST)
        assert set(_lineage(conn, "orders", "order_id").values()) == {_marks(FIRST)}
        assert set(_lineage(conn, "order_items", "order_item_id").values()) == {_marks(FIRST)}
        before = _everything(conn)

        again = load_staged_orders(conn, "1", first, lineage=RERUN)
        assert (again.orders.updated, again.items.updated, again.items.inserted) == (0, 0, 0)
        assert _everything(conn) == before

        shipped = [_listed("O1", "O1-0", "2026-11-21T10:00:00+01:00", shipped=1, status="SHIPPED"), listed[1]]
        result = load_staged_orders(conn, "1", _stage(tmp_path / "b", [], shipped), lineage=CHANGE)
        assert (result.items.inserted, result.items.updated) == (0, 1)
        items = _lineage(conn, "order_items", "order_item_id")
        assert items.pop("O1-0") == _marks(CHANGE)
        assert set(items.values()) == {_marks(FIRST)}
        assert set(_lineage(conn, "orders", "order_id").values()) == {_marks(FIRST)}


def _offers(conn, text: str, lineage: Lineage):
    return load_offer_list(conn, "R1", parse_export_csv(text), listing(), lineage=lineage)


def test_offers_lineage_first_run_rerun_and_one_change(warehouse: WarehouseTarget) -> None:
    text = _export(("a", "10.00", 1), ("b", "20.00", 2), ("c", "5.00", 3))
    with connect_warehouse(warehouse) as conn:
        _offers(conn, text, FIRST)
        for table in ("offers", "offer_snapshots"):
            assert set(_lineage(conn, table, "offer_id").values()) == {_marks(FIRST)}
        before = _everything(conn)

        again = _offers(conn, text, RERUN)
        assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
        assert _everything(conn) == before

        counts = _offers(conn, _export(("a", "11.00", 1), ("b", "20.00", 2)), CHANGE)  # a repriced, c gone
        assert (counts.updated, counts.deleted) == (1, 1)
        offers = _lineage(conn, "offers", "offer_id")
        assert (offers["a"], offers["b"], offers["c"]) == (_marks(CHANGE), _marks(FIRST), _marks(CHANGE))
        snapshots = _lineage(conn, "offer_snapshots", "offer_id")
        assert snapshots == {"a": _marks(CHANGE), "b": _marks(FIRST)}


def test_lineage_needs_an_aware_extract_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Lineage("d", "r", datetime(2026, 11, 1))


def test_migration_004_keeps_existing_rows_with_no_lineage(
    warehouse: WarehouseTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolsync.warehouse import migrations

    bundled = migrations.migration_files
    monkeypatch.setattr(migrations, "migration_files", lambda backend="duckdb": bundled(backend)[:3])
    stage = _stage(tmp_path / "a", [_detail("O1")], [])
    with connect_warehouse(warehouse) as conn:
        load_staged_orders(conn, "1", stage)
        before = select_all(conn, "bol.order_items")
    monkeypatch.setattr(migrations, "migration_files", bundled)
    with connect_warehouse(warehouse) as conn:
        after = select_all(conn, "bol.order_items", exclude=COLUMNS)
        assert after == before
        assert set(_lineage(conn, "order_items", "order_item_id").values()) == {(None, None, None)}
        again = load_staged_orders(conn, "1", stage, lineage=RERUN)
        assert again.items.updated == 0  # null lineage alone is no change
