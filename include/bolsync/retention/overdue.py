"""The alert when a purge is overdue: no successful purge of the personal store or the raw archive for longer
than ``OVERDUE_AFTER``, whatever the reason (the retention DAG paused, failing, or never deployed).

It does not depend on the retention DAG running: the auth check at the start of every sync run
(``runs.freshness``) and the nightly coverage check DAG both run it. A target never purged counts from when
this warehouse could first record purges (its migration 006), so an upgrade is not alerted before the retention
DAG had its chance. One alert per target and episode; a successful purge of the target clears it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bolsync.retention.record import PERSONAL_STORE, TARGETS, PurgeHistory, purge_history
from bolsync.runs import alerts
from bolsync.warehouse.base import Warehouse

log = logging.getLogger(__name__)

OVERDUE_AFTER = timedelta(days=2)
RETENTION_DAG = "bol_retention"
#: The migration that created ``bol.retention_purges``.
PURGES_MIGRATION = 6
_WHAT = {
    PERSONAL_STORE: "personal data (contact details of opted-in accounts' customers)",
    "raw_archive": "the raw archive of API responses",
}


@dataclass(frozen=True)
class OverduePurge:
    """A target whose last successful purge (or, never purged, ``since``) is older than ``OVERDUE_AFTER``."""

    history: PurgeHistory
    since: datetime

    @property
    def key(self) -> str:
        last = self.history.last_success.isoformat() if self.history.last_success else "never"
        return f"retention:{self.history.target}:overdue:{last}"


def overdue_purges(conn: Warehouse, now: datetime) -> list[OverduePurge]:
    """The targets whose purge is overdue at ``now``."""
    recorded_since = conn.scalar("SELECT applied_at FROM bol.schema_migrations WHERE version = ?", [PURGES_MIGRATION])
    overdue = []
    for target in TARGETS:
        history = purge_history(conn, target)
        since = history.last_success or recorded_since
        if since is not None and now - since > OVERDUE_AFTER:
            overdue.append(OverduePurge(history, since))
    return overdue


def overdue_alert(overdue: OverduePurge, now: datetime) -> alerts.Alert:
    """The message for one overdue target: since when, the last error, and what to do."""
    history = overdue.history
    days = (now - overdue.since).total_seconds() / 86400
    when = f"since {history.last_success.isoformat()}" if history.last_success else "ever"
    cause = f"\n\nThe last failed purge said:\n{history.last_error}" if history.last_error else ""
    return alerts.Alert(
        key=overdue.key,
        subject=f"[bolsync] {history.target.replace('_', ' ')} not purged for {days:.0f} days",
        body=f"No successful purge of {_WHAT.get(history.target, history.target)} {when} ({days:.1f} days; "
        f"it must run at least every {OVERDUE_AFTER.days} days). Until it does, data is kept past its retention."
        f"{cause}\n\nWhat to do:\nThe DAG {RETENTION_DAG} purges daily. Check that it is not paused (Airflow UI > "
        f"{RETENTION_DAG}) and read the log of its failed runs; table bol.retention_purges shows every purge. "
        f"A run of {RETENTION_DAG} that succeeds ends this alert.",
        kind="retention",
    )


def read_overdue(conn: Warehouse) -> list[alerts.Alert]:
    """The alerts of every overdue target (none when the purges are on time)."""
    now = datetime.now(UTC)
    return [overdue_alert(overdue, now) for overdue in overdue_purges(conn, now)]


def send_overdue(found: list[alerts.Alert], context: Any) -> None:
    """Send the alerts ``read_overdue`` found (after the reading connection closed)."""
    for alert in found:
        log.warning("%s", alert.subject)
        alerts.send(alert, context)
