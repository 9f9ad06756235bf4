"""Builds the shipments DAGs; DAG files only call :func:`shipments_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from bolsync.shipments.spec import OLDEST_DAY_PARAM, REFRESH_EVENTS_PARAM, SPEC
from bolsync.streams.dag import sync_dag


def shipments_dag(
    dag_id: str,
    cron: str,
    timezone: str,
    start_date: datetime,
    doc_md: str | None,
    tags: list[str],
    *,
    refresh_events: bool,
) -> DAG:
    """A DAG scanning every account's shipments in each [start, end) data interval; ``refresh_events``: the
    default of the run parameter that re-reads the transport events of recent shipments still under way."""
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
            REFRESH_EVENTS_PARAM: Param(
                refresh_events,
                type="boolean",
                description="Re-read the detail of shipments shipped within [bolsync] shipments_event_refresh_days "
                "whose journey has not ended (their transport events).",
            ),
            OLDEST_DAY_PARAM: Param(
                None,
                type=["null", "string"],
                description="A Dutch day (YYYY-MM-DD): read the lists down to it in this run (a backfill's first "
                "day), so one pass covers every day from it on.",
            ),
        },
    )
