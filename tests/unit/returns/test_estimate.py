"""The returns planner's estimate of a backfill: no call when a full scan observed the days already, else one full
scan sized by what the warehouse holds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bolsync.returns.load import MethodScanned, load_returns
from bolsync.returns.spec import DETAIL_ENDPOINT, LIST_ENDPOINT, SPEC
from bolsync.returns.stream import estimate
from bolsync.streams.spec import PlanJob, planner_of
from bolsync.warehouse.connection import connect_warehouse
from tests.unit.returns.data import NOW, entry, item, result
from tests.unit.returns.test_load import stage


def test_the_estimate_of_a_backfill(tmp_path: Path) -> None:
    assert planner_of(SPEC) is estimate
    days = (NOW.date() - timedelta(days=3), NOW.date() - timedelta(days=1))
    reads = [(entry(f"H{n:03d}", items=[item(f"H{n:03d}1", results=[result()])]), NOW, "p1") for n in range(120)]
    reads += [(entry(f"U{n}", items=[item(f"U{n}1")]), NOW, "p1") for n in range(3)]
    with connect_warehouse(tmp_path / "warehouse.duckdb") as conn:
        job = PlanJob(conn, SPEC, "bol_shop", "1", *days, NOW)
        empty = estimate(job)
        assert empty.calls == {LIST_ENDPOINT: 4, DETAIL_ENDPOINT: 0}
        assert "no returns of this account" in empty.note
        load_returns(
            conn, "1", stage(tmp_path / "a", reads), scans=[MethodScanned("FBR", NOW - timedelta(days=9), True, True)]
        )
        sized = estimate(job)
        assert sized.calls == {LIST_ENDPOINT: (1 + 3) + (1 + 1), DETAIL_ENDPOINT: 3}
        for method in ("FBR", "FBB"):
            load_returns(conn, "1", stage(tmp_path / method, []), scans=[MethodScanned(method, NOW, True, True)])
        assert estimate(job).total == 0  # a complete full scan after the last day observed it already
