"""Builds the orders DAGs; DAG files only call :func:`orders_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task_group

from bolsync.airflow_tasks import check_auth, extract, list_accounts, load

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


def orders_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None, tags: list[str]) -> DAG:
    """A DAG syncing every account's order changes in each [start, end) data interval."""
    with DAG(
        dag_id=dag_id,
        schedule=CronDataIntervalTimetable(cron, timezone=timezone),
        start_date=start_date,
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        doc_md=doc_md,
        tags=["bol", "orders", *tags],
        params={
            "accounts": accounts_param(),
        },
    ) as dag:
        sync_account.expand(conn_id=list_accounts())
    return dag


@task_group
def sync_account(conn_id: str) -> None:
    """One account's chain; mapped per account, so a failing account never holds up the others."""
    load(extract(check_auth(conn_id)))  # type: ignore[arg-type]  # XComArgs resolve at run time
