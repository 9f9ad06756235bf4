"""How long an account has gone without a successful load, from the bol.sync_runs audit rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

STALE_AFTER_VARIABLE = "bolsync_stale_after_hours"
#: A daily-only deployment syncs every 24 h; two hours of slack before calling the data stale.
DEFAULT_STALE_AFTER_HOURS = 26.0


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


def stale_after_hours(raw: str | None) -> float:
    """The threshold from the Variable (hours, > 0), else the default."""
    if raw in (None, ""):
        return DEFAULT_STALE_AFTER_HOURS
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if hours <= 0:
        log.error(
            "Variable %s must be a positive number of hours, got %r; using %s.",
            STALE_AFTER_VARIABLE,
            raw,
            DEFAULT_STALE_AFTER_HOURS,
        )
        return DEFAULT_STALE_AFTER_HOURS
    return hours
