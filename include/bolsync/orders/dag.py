"""Builds the orders DAGs; DAG files only call :func:`orders_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from bolsync.orders.spec import SPEC
from bolsync.streams.dag import sync_dag


def orders_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None, tags: list[str]) -> DAG:
    """A DAG syncing every account's order changes in each [start, end) data interval."""
    return sync_dag(
        SPEC,
        dag_id=dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=tuple(tags),
        max_active_runs=4,
    )
