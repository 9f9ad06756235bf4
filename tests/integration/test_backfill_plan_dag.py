"""The manual DAG bol_backfill_plan: a plan costs list calls only; a range beyond bol's history fails clearly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bolsync.runs.windows import AMSTERDAM, oldest_allowed_date
from tests.support.airflow_env import REPO, bol_connection, warehouse_connection

pytestmark = pytest.mark.integration

ACCOUNT = "plan_dag_shop"
SHOP = AccountConfig("pd-client", "pd-secret", "8000001")


@pytest.fixture(scope="module")
def emulator(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    handle = start_emulator(EmulatorConfig(seed=4, accounts=[SHOP], orders_per_day=60, history_days=5, rate_scale=20.0))
    bol_connection(
        ACCOUNT,
        handle.base_url,
        SHOP.client_id,
        SHOP.client_secret,
        rate_limit_per_second=200,
        endpoint_rate_limits={"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
    )
    warehouse_connection(tmp_path_factory.mktemp("plan_dag") / "warehouse.duckdb")
    yield handle
    handle.stop()


def plan_run(first: str, last: str) -> tuple[str, dict | None]:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["bol_backfill_plan"]
    run = dag.test(logical_date=datetime.now(UTC), run_conf={"account": ACCOUNT, "from": first, "to": last})
    ti = run.get_task_instance("plan_backfill")
    return str(run.state), ti.xcom_pull(task_ids="plan_backfill") if ti and str(ti.state) == "success" else None


def test_a_plan_costs_a_few_list_calls_and_reports_the_backfill(emulator: EmulatorHandle) -> None:
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    first, last = (today - timedelta(days=4)).isoformat(), (today - timedelta(days=1)).isoformat()
    state, plan = plan_run(first, last)
    assert state == "success"
    requests = emulator.stats.snapshot()["requests"]
    assert "GET /retailer/orders/{order-id}" not in requests
    assert plan is not None
    assert plan["inside_history"] is True
    assert plan["details"] > 0
    assert plan["probe_calls"] == sum(requests["GET /retailer/orders"].values())
    assert f"--dag-id bol_orders_daily --from-date {first}T00:00:00" in plan["backfill_command"]


def test_a_range_beyond_bols_history_fails_the_run(emulator: EmulatorHandle) -> None:
    oldest = oldest_allowed_date(datetime.now(UTC))
    state, _ = plan_run((oldest - timedelta(days=3)).isoformat(), oldest.isoformat())
    assert state == "failed"
