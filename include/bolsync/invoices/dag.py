"""Builds the invoices DAG; the DAG file only calls :func:`invoices_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from bolsync.invoices.periods import END_PARAM, START_PARAM
from bolsync.invoices.spec import SPEC
from bolsync.streams.dag import sync_dag


def invoices_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None) -> DAG:
    """A DAG syncing every account's invoices issued in each [start, end) data interval, or in the period a
    manual run's params name."""
    return sync_dag(
        SPEC,
        dag_id=dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=("weekly", "backfill"),
        max_active_runs=2,
        params={
            START_PARAM: Param(
                None,
                type=["null", "string"],
                description="First issue date to sync (YYYY-MM-DD, Amsterdam); with period_end, instead of the "
                "run's week. Any length: it is listed in periods of at most 31 days.",
            ),
            END_PARAM: Param(
                None,
                type=["null", "string"],
                description="Last issue date to sync (YYYY-MM-DD, included; before today).",
            ),
        },
    )
