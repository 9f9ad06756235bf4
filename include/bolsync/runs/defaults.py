"""What every bolsync DAG shares: pools, retries, the ``accounts`` param, the schedule's [start, end) intervals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

#: Tasks that call the bol API (caps concurrent API tasks; the request rate is the shared budget's job).
API_POOL = "bol_api"
#: Tasks that write the warehouse (one slot: DuckDB allows one writing process per file).
WAREHOUSE_POOL = "bol_warehouse"
POOLS = (API_POOL, WAREHOUSE_POOL)

DEFAULT_ARGS = {
    "owner": "bolsync",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=2),
}


def accounts_param() -> Param:
    """The ``accounts`` run parameter every bolsync DAG takes."""
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string"},
        description="bol_retailer connection ids to sync; empty = Variable bolsync_accounts or the default.",
    )


def stream_dag(
    dag_id: str,
    *,
    cron: str,
    timezone: str,
    start_date: datetime,
    doc_md: str | None,
    tags: list[str],
    max_active_runs: int,
    params: dict[str, Param] | None = None,
    is_paused_upon_creation: bool | None = None,
) -> DAG:
    """A bolsync DAG: [start, end) data intervals of ``cron``, no catchup, the shared retries and params."""
    all_params: dict[str, Any] = {"accounts": accounts_param(), **(params or {})}
    return DAG(
        dag_id=dag_id,
        schedule=CronDataIntervalTimetable(cron, timezone=timezone),
        start_date=start_date,
        catchup=False,
        max_active_runs=max_active_runs,
        default_args=DEFAULT_ARGS,
        doc_md=doc_md,
        tags=["bol", *tags],
        params=all_params,
        is_paused_upon_creation=is_paused_upon_creation,
    )
