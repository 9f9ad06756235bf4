"""The backfill planner's estimate of an invoices backfill: one list call per period of at most 31 days, and per
invoice to expect that the warehouse does not hold complete, its detail and its specification pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bolsync.invoices.spec import DOCUMENT_ENDPOINT, LIST_ENDPOINT, SPEC
from bolsync.invoices.stream import estimate
from bolsync.streams.spec import PlanJob, planner_of
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from tests.unit.invoices import bol_shapes as bol
from tests.unit.invoices.test_load import FIRST, RETAILER, load, stage

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def job(conn: object, first: date, last: date) -> PlanJob:
    return PlanJob(conn, SPEC, "bol_shop", RETAILER, first, last, NOW)  # type: ignore[arg-type]


def test_without_history_two_invoices_a_month_of_one_page_each(warehouse: WarehouseTarget) -> None:
    assert planner_of(SPEC) is estimate
    with connect_warehouse(warehouse) as conn:
        found = estimate(job(conn, date(2026, 1, 1), date(2026, 3, 31)))
    assert found.calls == {LIST_ENDPOINT: 3, DOCUMENT_ENDPOINT: 6 * 2}  # 90 days: 6 invoices, detail + 1 page
    assert "assumed twice a month" in found.note


def test_invoices_held_complete_are_not_read_again(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    load(warehouse, stage(tmp_path / "run", [bol.list_entry()], [bol.document()]), FIRST)
    with connect_warehouse(warehouse) as conn:
        found = estimate(job(conn, date(2026, 3, 1), date(2026, 3, 1)))
    assert found.calls == {LIST_ENDPOINT: 1, DOCUMENT_ENDPOINT: 0}
    assert "less 1 held complete" in found.note
