"""Builds the orders DAGs; DAG files only call :func:`orders_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task_group

from bolsync.orders.tasks import extract, load
from bolsync.runs.defaults import stream_dag
from bolsync.runs.tasks import check_auth, list_accounts


def orders_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None, tags: list[str]) -> DAG:
    """A DAG syncing every account's order changes in each [start, end) data interval."""
    with stream_dag(
        dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=["orders", *tags],
        max_active_runs=4,
    ) as dag:
        sync_account.expand(conn_id=list_accounts())
    return dag


@task_group
def sync_account(conn_id: str) -> None:
    """One account's chain; mapped per account, so a failing account never holds up the others."""
    load(extract(check_auth(conn_id)))  # type: ignore[arg-type]  # XComArgs resolve at run time
