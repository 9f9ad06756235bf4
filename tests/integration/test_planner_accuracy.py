"""The backfill planner against the real backfill: on a world of quiet and peak days, the estimate is within
15 % of the API calls the daily DAG's runs then make, and the probe costs at most 5 % of the estimate.

Slow (a probe plus a 15-day backfill through ``dag.test``): ``make planner-test``; not part of ``make test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bolsync.planner.plan import make_plan, parse_request
from bolsync.planner.report import render
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.support.airflow_env import bol_connection, run_dag, warehouse_connection

pytestmark = [pytest.mark.integration, pytest.mark.planner]

ACCOUNT = "bol_plan_shop"
SHOP = AccountConfig("plan-client", "plan-secret", "5000001")
#: Relative order volume per day, most recent first, repeated: a peak every 8 days between quiet days (lists of
#: a handful of orders up to ~10 pages, as item changes spread each peak over the next days).
DAY_WEIGHTS = (0.02, 0.02, 0.02, 0.02, 6.0, 0.5, 0.02, 0.02)
LIST, DETAIL = "GET /retailer/orders", "GET /retailer/orders/{order-id}"


def daily_run_for(day: date) -> datetime:
    """A logical date whose inferred data interval is the Amsterdam day ``day``."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


def calls(handle: EmulatorHandle) -> dict[str, int]:
    requests = handle.stats.snapshot()["requests"]
    return {endpoint: sum(requests.get(endpoint, {}).values()) for endpoint in (LIST, DETAIL)}


@pytest.fixture(scope="module")
def world(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorHandle, Path]]:
    config = EmulatorConfig(
        seed=23, accounts=[SHOP], orders_per_day=120, history_days=20, day_weights=DAY_WEIGHTS, rate_scale=20.0
    )
    handle = start_emulator(config)
    bol_connection(
        ACCOUNT,
        handle.base_url,
        SHOP.client_id,
        SHOP.client_secret,
        rate_limit_per_second=400,
        endpoint_rate_limits={"GET /retailer/orders": [4000, 60], "GET /retailer/orders/{id}": [400, 1]},
    )
    warehouse = tmp_path_factory.mktemp("planner") / "warehouse.duckdb"
    warehouse_connection(warehouse)
    yield handle, warehouse
    handle.stop()


def test_the_estimate_is_within_15_percent_and_the_probe_costs_at_most_5_percent(world) -> None:
    handle, warehouse = world
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    days = [today - timedelta(days=n) for n in range(16, 1, -1)]
    for day in days[6:8]:  # two days already synced: their orders are in the warehouse
        assert run_dag("bol_orders_daily", daily_run_for(day), [ACCOUNT]) == "success"

    before = calls(handle)
    now = datetime.now(UTC)
    request = parse_request(ACCOUNT, days[0].isoformat(), days[-1].isoformat(), "probe", now)
    plan = make_plan(request, now, BolRetailerHook(ACCOUNT), lambda: connect_warehouse(warehouse))
    probed = calls(handle)
    print(render(plan))
    assert probed[DETAIL] == before[DETAIL]
    probe_calls = probed[LIST] - before[LIST]
    assert probe_calls == plan.probe_calls

    for day in days:
        assert run_dag("bol_orders_daily", daily_run_for(day), [ACCOUNT]) == "success"
    after = calls(handle)
    actual = {endpoint: after[endpoint] - probed[endpoint] for endpoint in (LIST, DETAIL)}
    total = sum(actual.values())
    print(
        f"estimate {plan.calls} ({plan.list_calls} list, {plan.details} details); actual {total} ({actual[LIST]} "
        f"list, {actual[DETAIL]} details); error {plan.calls / total - 1:+.1%}; probe {probe_calls} calls = "
        f"{probe_calls / plan.calls:.1%} of the estimate"
    )
    sizes = [d.orders for d in plan.days]
    assert max(sizes) >= 5 * 50, "the world should have peak days"
    assert min(sizes) <= 50, "the world should have quiet days"
    assert abs(plan.calls - total) <= 0.15 * total
    assert probe_calls <= 0.05 * plan.calls
    assert plan.list_calls == actual[LIST]  # a static list: pages + the empty end + one settle pass
