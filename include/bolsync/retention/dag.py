"""Builds the retention DAG; the DAG file only calls :func:`retention_dag` (no I/O at import)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from bolsync.retention.tasks import purge_personal_store, purge_raw_archive
from bolsync.runs.defaults import stream_dag


def retention_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None) -> DAG:
    """A daily DAG with one purge task per target; active as soon as it is deployed."""
    with stream_dag(
        dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=["retention"],
        max_active_runs=1,
        is_paused_upon_creation=False,
    ) as dag:
        purge_personal_store()
        purge_raw_archive()
    return dag
