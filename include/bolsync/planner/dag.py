"""The manual DAG ``bol_backfill_plan``: one task that plans a backfill and reports it in its log and run note.

Wiring only: nothing is read at import time, and the planner is imported when the task runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from bolsync.planner.modes import MODES
from bolsync.runs.defaults import API_POOL
from bolsync.streams.registry import STREAMS


@task(pool=API_POOL, retries=0)
def plan_backfill() -> dict[str, Any]:
    """Plan the backfill the run's params ask for; the plan goes to the task log and the run note."""
    from bolsync.planner.run_plan import plan_for_run

    return plan_for_run(get_current_context())


def backfill_plan_dag(dag_id: str, start_date: datetime, doc_md: str | None) -> DAG:
    """A manually triggered DAG whose params name the account and the range to plan."""
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        doc_md=doc_md,
        tags=["bol", "backfill", "planning"],
        params={
            "account": Param(
                "bol_retailer_default", type="string", minLength=1, description="bol_retailer connection id"
            ),
            "from": Param("", type="string", description="First Dutch day to backfill, YYYY-MM-DD"),
            "to": Param("", type="string", description="Last Dutch day (inclusive), YYYY-MM-DD"),
            "stream": Param(
                "orders", type="string", enum=list(STREAMS), description="The stream to backfill (default: orders)"
            ),
            "mode": Param(
                "probe",
                type="string",
                enum=list(MODES),
                description="probe (a few list calls per "
                "day) or history (no API call, from the warehouse's past volume)",
            ),
        },
    ) as dag:
        plan_backfill()
    return dag
