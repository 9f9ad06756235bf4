"""The helper DAGs: the manual backfill planner, the daily coverage check and the daily retention (wiring only)."""

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
    pools = {task.task_id: task.pool for task in dag.tasks}
    assert pools == {"check_coverage": WAREHOUSE_POOL, "check_retention": "default_pool"}
    assert not {"orders", "offers"} & set(dag.tags)  # its runs never count as coverage


def test_the_retention_dag_purges_every_night_whatever_the_loads_do(dagbag) -> None:
    dag = dagbag.dags["bol_retention"]
    assert dag.timetable.expression == "0 3 * * *"
    assert str(dag.timetable.timezone) in ("Europe/Amsterdam", "Timezone('Europe/Amsterdam')")
    assert dag.catchup is False
    assert dag.is_paused_upon_creation is False  # purging starts as soon as it is deployed
    assert dag.max_active_runs == 1
    assert dag.doc_md
    assert "bol" in dag.doc_md
    assert {"bol", "retention"} <= set(dag.tags)
    assert not {"orders", "offers"} & set(dag.tags)
    assert "accounts" in dag.params  # which accounts count as synced for the personal-data rule
    pools = {task.task_id: task.pool for task in dag.tasks}
    assert pools == {"purge_personal_store": WAREHOUSE_POOL, "purge_raw_archive": "default_pool"}
    assert all(not task.upstream_task_ids for task in dag.tasks)  # one failing purge never holds up the other
    assert all(task.retries >= 1 for task in dag.tasks)
