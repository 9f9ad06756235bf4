"""The one freshness check: how long an account has gone without a successful load, and its alert.

It runs at the start of every scheduled run (backfills say nothing about freshness) and alerts once per
staleness episode when the account's last successful load (any stream, from ``bol.sync_runs``) is older than
Variable ``bolsync_stale_after_hours`` (default 26 h). On the same connection it looks for overdue retention
purges (``retention.overdue``), so their alert never depends on the retention DAG running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bolsync.retention.overdue import read_overdue, send_overdue
from bolsync.runs import alerts, config
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Freshness:
    """``last_success`` is None when the account never loaded; ``since`` is then its first attempt."""

    last_success: datetime | None
    since: datetime

    def hours_stale(self, now: datetime) -> float:
        return (now - (self.last_success or self.since)).total_seconds() / 3600


def account_freshness(conn: Any, conn_id: str) -> Freshness | None:
    """The account's last successful load; None when it has no audit rows at all (a new account)."""
    row = conn.execute(
        """SELECT max(finished_at) FILTER (WHERE status = 'success' AND task_id LIKE '%load'), min(started_at)
           FROM bol.sync_runs WHERE conn_id = ?""",
        [conn_id],
    ).fetchone()
    if row is None or row[1] is None:
        return None
    return Freshness(last_success=row[0], since=row[1])


def alert_if_stale(context: Any, database: WarehouseTarget, conn_id: str) -> None:
    """One alert per staleness episode when the account has not loaded for longer than the threshold, and one
    per overdue retention purge (``retention.overdue``)."""
    dag_run = context.get("dag_run")
    if dag_run is not None and str(getattr(dag_run, "run_type", "")).endswith("backfill"):
        return
    threshold = config.stale_after_hours()
    try:
        with connect_warehouse(database) as conn:
            freshness = account_freshness(conn, conn_id)
            overdue = read_overdue(conn)
    except Exception as error:  # the check must not block the sync itself
        log.warning("Could not read the sync history for the freshness check: %s", error)
        return
    send_overdue(overdue, context)
    if freshness is None:
        return
    hours = freshness.hours_stale(datetime.now(UTC))
    if hours > threshold:
        last = freshness.last_success.isoformat() if freshness.last_success else None
        alerts.send(alerts.stale_alert(conn_id, hours, last, threshold), context)
