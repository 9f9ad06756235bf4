"""The last run of the planning DAGs (the backfill plan, the coverage check) and its note, from Airflow's
metadata database: the page runs inside the API server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The DAGs whose last result the page shows.
RESULT_DAGS = ("bol_coverage_check", "bol_backfill_plan")


def last_results(dag_ids: Sequence[str] = RESULT_DAGS) -> list[dict[str, Any]]:
    """Per DAG with a run: its last run's id, state, when it ran and its note."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    results = []
    with create_session() as session:
        for dag_id in dag_ids:
            run = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
            ).first()
            if run is None:
                continue
            results.append(
                {
                    "dag_id": dag_id,
                    "run_id": run.run_id,
                    "state": str(run.state),
                    "run_after": run.run_after.isoformat() if run.run_after else None,
                    "note": run.note,
                }
            )
    return results
