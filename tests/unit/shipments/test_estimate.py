"""The shipments planner's estimate of a backfill: no call for days the scanned span holds, else one pass down
both lists to the first day, sized by the span's shipments a day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bolsync.runs.windows import AMSTERDAM
from bolsync.shipments.spec import DETAIL_ENDPOINT, LIST_ENDPOINT, SPEC
from bolsync.shipments.stream import estimate
from bolsync.streams.spec import PlanJob, planner_of
from bolsync.warehouse.connection import connect_warehouse
from tests.unit.shipments.fake_bol import NOW
from tests.unit.shipments.test_extract import RETAILER, Account, _day


def test_the_estimate_of_a_backfill(tmp_path: Path) -> None:
    assert planner_of(SPEC) is estimate
    account = Account(tmp_path)
    for n in range(24 * 20):  # 24 FBR shipments a day for 20 days
        account.bol.add(f"S{n:04d}", NOW - timedelta(hours=1) * (n + 1))
    today = NOW.astimezone(AMSTERDAM).date()
    with connect_warehouse(account.database) as conn:
        empty = estimate(
            PlanJob(conn, SPEC, "bol_shop", RETAILER, today - timedelta(days=3), today - timedelta(days=1), NOW)
        )
    assert empty.calls == {LIST_ENDPOINT: 2, DETAIL_ENDPOINT: 0}
    assert "no complete scan" in empty.note
    account.run(_day(today - timedelta(days=4)))  # the span: from 4 days ago on
    with connect_warehouse(account.database) as conn:
        held = estimate(
            PlanJob(conn, SPEC, "bol_shop", RETAILER, today - timedelta(days=3), today - timedelta(days=1), NOW)
        )
        older = estimate(
            PlanJob(conn, SPEC, "bol_shop", RETAILER, today - timedelta(days=10), today - timedelta(days=1), NOW)
        )
    assert held.total == 0
    stored = len(account.stored())
    assert 24 * 4 <= stored <= 24 * 5 + 50
    # six more days at ~24 a day: 144 details; pages for what is held plus those, and the empty FBB list.
    assert 130 <= older.calls[DETAIL_ENDPOINT] <= 160
    assert older.calls[LIST_ENDPOINT] == (stored + older.calls[DETAIL_ENDPOINT]) // 50 + 1 + 1
