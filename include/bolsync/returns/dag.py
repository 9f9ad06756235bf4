"""Builds the returns DAGs; DAG files only call :func:`returns_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from bolsync.returns.spec import FULL_SCAN_PARAM, SPEC
from bolsync.streams.dag import sync_dag


def returns_dag(
    dag_id: str,
    cron: str,
    timezone: str,
    start_date: datetime,
    doc_md: str | None,
    tags: list[str],
    *,
    full_scan: bool,
) -> DAG:
    """A DAG scanning every account's returns in each [start, end) data interval; ``full_scan``: the default of the
    run parameter that reads the handled lists to their end."""
    return sync_dag(
        SPEC,
        dag_id=dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=tuple(tags),
        max_active_runs=1,
        params={
            FULL_SCAN_PARAM: Param(
                full_scan,
                type="boolean",
                description="Read the handled return lists to their end (sees a changed handling result of a return "
                "handled long ago); otherwise down to the last complete scan's bound.",
            )
        },
    )
