"""DuckDB's streamed staging: the newest row per key across chunks, and the merge settings restored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bolsync.warehouse.base import Table
from bolsync.warehouse.connection import connect_warehouse
from bolsync.warehouse.duckdb_warehouse import MERGE_SETTINGS

ITEMS = Table("bol.order_items", ("retailer_id", "order_item_id"), version="latest_changed_at")


def _rows(*rows: tuple[str, str, int]) -> pd.DataFrame:
    """Item rows (order_item_id, fulfilment_status, day of November)."""
    return pd.DataFrame(
        {
            "retailer_id": pd.array(["r1"] * len(rows), dtype="string"),
            "order_item_id": pd.array([r[0] for r in rows], dtype="string"),
            "fulfilment_status": pd.array([r[1] for r in rows], dtype="string"),
            "latest_changed_at": pd.Series([datetime(2026, 11, r[2], tzinfo=UTC) for r in rows]),
        }
    )


def test_repeated_keys_keep_their_newest_row_and_single_keys_pass(tmp_path: Path) -> None:
    chunks = [
        [_rows(("a", "OPEN", 2), ("b", "OPEN", 1), ("c", "OPEN", 5))],
        [_rows(("a", "HANDLED", 1), ("b", "HANDLED", 1), ("d", "OPEN", 3))],
    ]
    with connect_warehouse(tmp_path / "w.duckdb") as warehouse:
        with warehouse.staged_latest_many(chunks, [ITEMS]) as [staged]:
            assert staged is not None
            name, _ = staged
            rows = warehouse.query(f"SELECT order_item_id, fulfilment_status FROM {name} ORDER BY 1")
        assert rows == [("a", "OPEN"), ("b", "HANDLED"), ("c", "OPEN"), ("d", "OPEN")]


def test_merge_settings_hold_inside_and_are_restored(tmp_path: Path) -> None:
    def current() -> dict[str, str]:
        return {k: str(warehouse.query(f"SELECT current_setting('{k}')")[0][0]) for k in MERGE_SETTINGS}

    with connect_warehouse(tmp_path / "w.duckdb") as warehouse:
        before = current()
        with warehouse.staged_latest_many([[_rows(("a", "OPEN", 1))]], [ITEMS]):
            assert current() == MERGE_SETTINGS
        assert current() == before
        assert warehouse.query("SELECT table_name FROM duckdb_tables() WHERE temporary") == []
