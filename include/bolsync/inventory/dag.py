"""Builds the inventory DAG; the DAG file only calls :func:`inventory_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from bolsync.inventory.spec import SPEC
from bolsync.runs.evidence import confirm_params
from bolsync.streams.dag import sync_dag


def inventory_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None) -> DAG:
    """A DAG taking every account's FBB stock snapshot of the day each run is due on."""
    return sync_dag(
        SPEC,
        dag_id=dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=("daily",),
        max_active_runs=1,
        params=confirm_params("EANs"),
    )
