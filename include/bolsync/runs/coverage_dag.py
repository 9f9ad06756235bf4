"""Builds the nightly check DAG (coverage holes, overdue retention purges); the DAG file only calls
:func:`coverage_dag` (no I/O at import; the checks are imported when their tasks run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from bolsync.runs import config
from bolsync.runs.defaults import WAREHOUSE_POOL, stream_dag
from bolsync_provider.errors import BolConfigError


@task(pool=WAREHOUSE_POOL)
def check_coverage() -> dict[str, Any]:
    """Alert each new hole in the synced history of every account (orders and offers)."""
    from bolsync.runs.coverage_check import check_note, run_check
    from bolsync.runs.run_note import add_to_run_note

    context = get_current_context()
    try:
        accounts = config.accounts(context.get("params"))
        summary = run_check(context, accounts)
    except BolConfigError as error:
        add_to_run_note(context, f"Coverage check not run: {error}")
        raise AirflowFailException(str(error)) from error
    add_to_run_note(context, check_note(summary))
    return summary


@task
def check_retention() -> list[str]:
    """Alert each overdue retention purge (whether ``bol_retention`` runs or not); the alerts' subjects."""
    from bolsync.retention.overdue import read_overdue, send_overdue
    from bolsync.warehouse.connection import connect_warehouse, warehouse_target

    context = get_current_context()
    with connect_warehouse(warehouse_target()) as conn:
        found = read_overdue(conn)
    send_overdue(found, context)
    return [alert.subject for alert in found]


def coverage_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None) -> DAG:
    """A daily DAG with the two checks."""
    with stream_dag(
        dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=["coverage"],
        max_active_runs=1,
    ) as dag:
        check_coverage()
        check_retention()
    return dag
