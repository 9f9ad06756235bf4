"""The FBB inventory DAG: nightly at 01:00 in Amsterdam, one run at a time, the confirmation params, a doc that
says why and what a snapshot's date means."""

from __future__ import annotations

from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_the_inventory_dag_runs_nightly_and_takes_the_confirmation() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / "bol_inventory_daily.py")).dags["bol_inventory_daily"]
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 1 * * *", "Europe/Amsterdam")
    assert dag.max_active_runs == 1
    assert {"accounts", "confirm_deletions", "confirm_empty"} <= set(dag.params)
    assert dag.params["confirm_deletions"] is False
    assert {"inventory", "daily"} <= set(dag.tags)
    doc = dag.doc_md
    for said in ("Why 01:00", "What a snapshot's date means", "bol keeps no stock history", "LOST", "covered"):
        assert said in doc
