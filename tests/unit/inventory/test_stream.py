"""The inventory stream as the shared machinery sees it: registered with no history (a hole is lost), its
planner estimate, and the benchmark's call counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bolsync.inventory.extract import list_calls
from bolsync.inventory.load import load_inventory_list
from bolsync.inventory.spec import SPEC
from bolsync.inventory.transform import inventory_rows
from bolsync.runs.gaps import amsterdam_midnight, holes
from bolsync.streams.registry import STREAMS, stream_of_dag
from bolsync.streams.spec import PlanJob, planner_of
from bolsync.warehouse.connection import connect_warehouse
from tests.benchmarks.streams.inventory import calls_for, fewest_calls, naive_calls, run_calls

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)  # 08:00 in Amsterdam
TODAY = date(2026, 11, 30)


def test_the_stream_is_registered_and_a_missed_day_is_lost_not_backfilled() -> None:
    assert STREAMS["inventory"] is SPEC
    assert stream_of_dag("bol_inventory_daily") is SPEC
    assert not SPEC.keeps_history
    covered = [(amsterdam_midnight(TODAY - timedelta(days=n)), amsterdam_midnight(TODAY - timedelta(days=n - 1)))
               for n in (5, 4, 2)]  # fmt: skip
    span = (covered[0][0], amsterdam_midnight(TODAY))
    found = holes("inventory", "shop", covered, span, NOW)
    assert [(h.first_day, h.last_day, h.kind) for h in found] == [
        (TODAY - timedelta(days=3), TODAY - timedelta(days=3), "lost"),
        (TODAY - timedelta(days=1), TODAY - timedelta(days=1), "lost"),
    ]


def test_the_estimate_is_todays_list_and_nothing_for_past_days(warehouse) -> None:
    estimate = planner_of(SPEC)
    assert estimate is not None
    with connect_warehouse(warehouse) as conn:
        entries = [{"ean": f"E{n:03d}", "regularStock": 1, "gradedStock": 0} for n in range(120)]
        with conn.transaction():
            load_inventory_list(conn, "R1", inventory_rows(entries), TODAY - timedelta(days=1))

        def plan(first: date, last: date) -> dict[str, int]:
            return estimate(PlanJob(conn, SPEC, "shop", "R1", first, last, NOW)).calls

        assert (
            plan(TODAY - timedelta(days=7), TODAY)
            == {"GET /retailer/inventory": list_calls(120)}
            == {"GET /retailer/inventory": 4}
        )
        assert plan(TODAY - timedelta(days=7), TODAY - timedelta(days=1)) == {"GET /retailer/inventory": 0}


@pytest.mark.parametrize(("eans", "fewest", "run"), [(0, 1, 1), (1, 1, 2), (49, 1, 2), (50, 2, 2), (60, 2, 3)])
def test_the_benchmark_counts(eans: int, fewest: int, run: int) -> None:
    assert (fewest_calls(eans), run_calls(eans), naive_calls(eans)) == (fewest, run, run)
    assert run_calls(eans, vanished=2) == run + 2
    assert run_calls(eans, vanished=21) == run  # too many to look up one by one
    assert calls_for([{}] * eans) == {"run": run, "fewest": fewest, "naive": run}
