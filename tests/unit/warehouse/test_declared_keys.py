"""Each stream's keys are declared once (``warehouse.base.Table``): the DDL, the transforms and the merges agree,
and on every engine a duplicate key cannot land."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from bolsync.orders.load import merge_orders
from bolsync.orders.spec import ORDERS
from bolsync.orders.transform import latest_per_item, order_rows
from bolsync.streams.registry import STREAMS
from bolsync.warehouse.base import Table
from bolsync.warehouse.connection import WarehouseTarget, as_target, connect_warehouse

#: Every table a stream declares.
DECLARED = [table for spec in STREAMS.values() for table in spec.tables]


@pytest.mark.parametrize("table", DECLARED, ids=lambda t: t.name)
def test_postgres_primary_keys_are_the_declared_keys(postgres_database: str, table: Table) -> None:
    with connect_warehouse(postgres_database) as conn:
        columns = conn.query(
            """SELECT a.attname FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               WHERE i.indrelid = to_regclass(?) AND i.indisprimary
               ORDER BY array_position(i.indkey::int2[], a.attnum)""",
            [table.name],
        )
    assert tuple(column for (column,) in columns) == table.key


@pytest.mark.parametrize("table", DECLARED, ids=lambda t: t.name)
def test_duckdb_tables_have_the_declared_key_columns_not_null(tmp_path: Path, table: Table) -> None:
    schema, name = table.name.split(".")
    with connect_warehouse(tmp_path / "warehouse.duckdb") as conn:
        nullable = dict(
            conn.query(
                "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ?",
                [schema, name],
            )
        )
    assert {column: nullable[column] for column in table.key} == dict.fromkeys(table.key, "NO")


def test_transforms_keep_one_row_per_declared_key() -> None:
    order = {"orderId": "O1", "orderItems": []}
    assert len(order_rows("1", [order, order])) == 1
    items = pd.DataFrame(
        {
            "retailer_id": ["1", "1"],
            "order_item_id": ["I1", "I1"],
            "latest_changed_at": pd.to_datetime(["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"], utc=True),
        }
    )
    assert latest_per_item(items)["latest_changed_at"].tolist() == [pd.Timestamp("2026-11-02T10:00:00Z")]


def _merge_orders_repeatedly(path: str, rounds: int) -> None:
    frame = order_rows("1", [{"orderId": f"O{n}", "orderItems": []} for n in range(200)])
    for _ in range(rounds):
        with connect_warehouse(path) as conn, conn.transaction(), conn.staged(frame, ORDERS.name) as incoming:
            merge_orders(conn, incoming, list(frame.columns))


def test_duckdb_concurrent_loads_of_the_same_keys_leave_no_duplicate(tmp_path: Path) -> None:
    """DuckDB has no key index: one writer per file (the file lock) plus merging by key keep keys unique."""
    target: WarehouseTarget = as_target(tmp_path / "warehouse.duckdb")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_merge_orders_repeatedly, args=(str(target.path), 5)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with connect_warehouse(target) as conn:
        assert conn.query(f"SELECT count(*), count(DISTINCT ({ORDERS.key_sql})) FROM {ORDERS.name}") == [(200, 200)]
