"""One factory for every stream's DAGs: which accounts, then one task per account running its auth check, the
stream's extract and load (``streams.tasks``), mapped per account (a failing account never holds up the
others). DAG files only call it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, task_group

from bolsync.runs.defaults import stream_dag
from bolsync.runs.tasks import list_accounts
from bolsync.streams.spec import StreamSpec
from bolsync.streams.tasks import sync_task


def sync_dag(
    spec: StreamSpec,
    *,
    dag_id: str,
    cron: str,
    timezone: str,
    start_date: datetime,
    doc_md: str | None,
    tags: tuple[str, ...] = (),
    max_active_runs: int = 1,
    params: dict[str, Param] | None = None,
) -> DAG:
    """A DAG syncing ``spec`` for every account in each [start, end) data interval of ``cron``, with the stream's
    own ``extract`` and ``load`` (``StreamSpec.module``, imported when the task runs)."""
    if dag_id not in spec.dags:
        raise ValueError(f"{dag_id} is not one of the DAGs of stream {spec.name}: {', '.join(spec.dags)}")
    sync = sync_task(spec)

    @task_group(group_id="sync_account")
    def sync_account(conn_id: Any) -> None:
        """One account's sync, mapped per account."""
        sync(conn_id)

    with stream_dag(
        dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=[spec.name, *tags],
        max_active_runs=max_active_runs,
        params=params,
    ) as dag:
        sync_account.expand(conn_id=list_accounts())
    return dag
