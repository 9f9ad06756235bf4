"""bol.sync_coverage: which [start, end) window of which stream and account a load synced successfully.

Written by ``audit.audited`` when a load task succeeds; a rerun of the same window refreshes its row (the
run that synced it last, and when, and how many records it held in the quarantine: ``runs.quarantine``).
The nightly coverage check (``runs.gaps``) reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bolsync.streams.registry import STREAMS, stream_of_dag
from bolsync.warehouse.base import Warehouse

__all__ = ["STREAMS", "Covered", "covered_windows", "record_coverage", "stream_of"]


@dataclass(frozen=True)
class Covered:
    """One synced window."""

    start: datetime
    end: datetime
    retailer_id: str | None = None


def stream_of(context: Any) -> str | None:
    """The stream a DAG syncs: the stream that names the DAG among its DAGs, else the one of its tags (every
    stream's DAG factory tags it with the stream's name); None for DAGs that sync none."""
    dag = context.get("dag")
    spec = stream_of_dag(str(getattr(dag, "dag_id", "")))
    if spec is not None:
        return spec.name
    tags = set(getattr(dag, "tags", None) or ())
    found = [stream for stream in STREAMS if stream in tags]
    return found[0] if len(found) == 1 else None


def record_coverage(conn: Warehouse, context: Any, audit: Mapping[str, Any]) -> bool:
    """Upsert the coverage row of a successful load try; False when it has no stream or window to record."""
    stream = stream_of(context)
    start, end = audit.get("window_start"), audit.get("window_end")
    if stream is None or start is None or end is None:
        return False
    ti = context["ti"]
    held = int(audit.get("quarantined") or 0)
    conn.execute(
        """INSERT INTO bol.sync_coverage
               (stream, conn_id, retailer_id, window_start, window_end, dag_id, run_id, synced_at, quarantined)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (stream, conn_id, window_start, window_end) DO UPDATE SET
               retailer_id = excluded.retailer_id, dag_id = excluded.dag_id, run_id = excluded.run_id,
               synced_at = excluded.synced_at, quarantined = excluded.quarantined""",
        [stream, audit["conn_id"], audit.get("retailer_id"), start, end, ti.dag_id, ti.run_id, datetime.now(UTC), held],
    )
    return True


def covered_windows(conn: Warehouse, stream: str, conn_id: str) -> list[Covered]:
    """The account's synced windows of ``stream``, oldest first."""
    rows = conn.query(
        "SELECT window_start, window_end, retailer_id FROM bol.sync_coverage WHERE stream = ? AND conn_id = ? "
        "ORDER BY window_start, window_end",
        [stream, conn_id],
    )
    return [Covered(_utc(start), _utc(end), retailer) for start, end, retailer in rows]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
