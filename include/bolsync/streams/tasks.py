"""The one task per account every stream's DAG maps: auth check, extract, load (``streams.steps``), each step
audited as before (``sync_account.check_auth``, ``.extract``, ``.load``). A failure anywhere fails the task and
its retry starts over from the auth check: the window is recorded as covered only by a load that committed.

The task holds the ``bol_api`` pool slot; on DuckDB the warehouse's file lock is taken by each short
connection, so only while the load (or an audit row) writes, never while bol is called. Light to import:
the steps and the stream's own module are imported when the task runs, not when the DAG file is parsed.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task

from bolsync.runs import assets
from bolsync.runs.defaults import API_POOL
from bolsync.runs.tasks import label_task
from bolsync.streams.spec import StreamSpec

#: The task's id in the ``sync_account`` group; the audit rows name its steps instead.
SYNC_TASK_ID = "sync"


def sync_task(spec: StreamSpec) -> Any:
    """The ``sync`` task of ``spec``'s DAGs, syncing one account (mapped per account)."""
    if spec.module is None:
        raise ValueError(f"stream {spec.name} runs tasks of its own, not the generic stream tasks")

    outlets = assets.stream_outlets(spec)

    @task(task_id=SYNC_TASK_ID, pool=API_POOL, map_index_template="{{ account_label }}", outlets=outlets)
    def sync(conn_id: str) -> dict[str, Any]:
        from bolsync.runs.account_check import authenticate
        from bolsync.streams.steps import run_extract, run_load
        from bolsync.warehouse.connection import warehouse_target

        context = get_current_context()
        label_task(context, conn_id)
        database = warehouse_target()
        authenticate(context, conn_id, step="check_auth", database=database)
        return run_load(spec, context, run_extract(spec, context, conn_id, database), database)

    return sync
