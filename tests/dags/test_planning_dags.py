"""The two helper DAGs: the manual backfill planner and the daily coverage check (wiring only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bolsync.runs.defaults import API_POOL, WAREHOUSE_POOL

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), known_pools={API_POOL, WAREHOUSE_POOL, "default_pool"})


def test_the_backfill_plan_dag_is_manual_with_account_and_range_params(dagbag) -> None:
    dag = dagbag.dags["bol_backfill_plan"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # manual only
    assert dag.catchup is False
    assert {"account", "from", "to", "mode"} <= set(dag.params)
    (task,) = dag.tasks
    assert (task.task_id, task.pool) == ("plan_backfill", API_POOL)
    assert dag.doc_md
    assert "bol" in dag.tags


def test_the_coverage_check_runs_daily_after_the_nightly_syncs(dagbag) -> None:
    dag = dagbag.dags["bol_coverage_check"]
    assert dag.timetable.expression == "0 6 * * *"
    assert str(dag.timetable.timezone) in ("Europe/Amsterdam", "Timezone('Europe/Amsterdam')")
    assert dag.catchup is False
    assert "accounts" in dag.params
    (task,) = dag.tasks
    assert (task.task_id, task.pool) == ("check_coverage", WAREHOUSE_POOL)
    assert not {"orders", "offers"} & set(dag.tags)  # its runs never count as coverage
