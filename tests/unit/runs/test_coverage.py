"""bol.sync_coverage rows: written per stream and window, a rerun refreshes the same row (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bolsync.runs.coverage import covered_windows, record_coverage, stream_of
from bolsync.warehouse.connection import connect_warehouse

START = datetime(2026, 11, 20, 23, tzinfo=UTC)


def context(run_id: str, tags: list[str]) -> dict:
    return {
        "dag": SimpleNamespace(tags=tags),
        "ti": SimpleNamespace(dag_id="bol_orders_daily", run_id=run_id, task_id="sync_account.load"),
    }


def test_stream_of_reads_the_dag_tags() -> None:
    assert stream_of(context("r", ["bol", "orders", "daily"])) == "orders"
    assert stream_of(context("r", ["bol", "offers"])) == "offers"
    assert stream_of(context("r", ["bol", "coverage"])) is None


def test_a_rerun_refreshes_the_same_row(warehouse) -> None:
    audit = {
        "conn_id": "bol_shop",
        "retailer_id": "2000001",
        "window_start": START,
        "window_end": START + timedelta(days=1),
    }
    with connect_warehouse(warehouse) as conn:
        assert record_coverage(conn, context("first", ["orders"]), audit)
        assert record_coverage(conn, context("again", ["orders"]), audit)
        assert not record_coverage(conn, context("x", ["coverage"]), audit)
        assert record_coverage(conn, context("offers", ["offers"]), audit)
        rows = conn.query("SELECT stream, run_id FROM bol.sync_coverage ORDER BY stream")
        windows = covered_windows(conn, "orders", "bol_shop")
    assert rows == [("offers", "offers"), ("orders", "again")]
    assert [(w.start, w.end, w.retailer_id) for w in windows] == [(START, START + timedelta(days=1), "2000001")]


def test_the_row_counts_the_records_the_load_held_and_a_rerun_refreshes_it(warehouse) -> None:
    audit = {
        "conn_id": "bol_shop",
        "retailer_id": "2000001",
        "window_start": START,
        "window_end": START + timedelta(days=1),
        "quarantined": 2,
    }
    with connect_warehouse(warehouse) as conn:
        record_coverage(conn, context("first", ["orders"]), audit)
        held = conn.query("SELECT quarantined FROM bol.sync_coverage")
        record_coverage(conn, context("again", ["orders"]), {**audit, "quarantined": 0})
        after = conn.query("SELECT quarantined FROM bol.sync_coverage")
    assert (held, after) == ([(2,)], [(0,)])
