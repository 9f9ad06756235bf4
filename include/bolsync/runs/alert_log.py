"""``bol.alerts``: every alert a task raised, whether it got out, and when what it reported was resolved.

One row per alert key: kind, account, retailer, stream, subject and body (redacted), the task that raised it,
the first and last delivery attempt, how many attempts and deliveries, the last delivery error, and
``cleared_at``/``cleared_by`` (NULL while the alert is open; an alert raised again is open again).

Recording never blocks or breaks a task and never stops the mail: an attempt is queued in the process and
written at once when the warehouse can be opened within seconds; while this very process holds the DuckDB
warehouse (a load, the coverage check) or the write fails, it stays queued and goes with the next write of
this process: :func:`write_pending`, which the audit row of every task try (``runs.audit``) and the checks
call. A failure to record is logged. Alerts sent outside an Airflow task are not recorded.

When an alert is cleared:

- ``auth`` and ``stale``: a later successful load of the account (any stream): it authenticates and is fresh.
- ``sync_failed`` and ``window_too_old``: a later successful load of the account's same stream.
- ``coverage``: once none of its holes is open any more (filled, or out of the checked span).
- ``retention``: a later successful purge of the same target (``retention``).

Other kinds stay open until their owner calls :func:`clear`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import WarehouseTarget

log = logging.getLogger(__name__)

#: Kinds that a later successful load of the account clears, whatever its stream.
CLEARED_BY_ANY_LOAD = ("auth", "stale")
#: Kinds that a later successful load of the account's same stream clears.
CLEARED_BY_STREAM_LOAD = ("sync_failed", "window_too_old")
#: The longest a direct write waits for the DuckDB warehouse before the attempt is queued instead.
QUICK_LOCK_WAIT = timedelta(seconds=3)

_COLUMNS = (
    "alert_key, kind, conn_id, retailer_id, stream, subject, body, dag_id, run_id, task_id, first_attempt_at, "
    "last_attempt_at, attempts, first_sent_at, last_sent_at, sends, last_error"
)
_UPSERT = f"""INSERT INTO bol.alerts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
ON CONFLICT (alert_key) DO UPDATE SET
    kind = excluded.kind, conn_id = coalesce(excluded.conn_id, bol.alerts.conn_id),
    retailer_id = coalesce(excluded.retailer_id, bol.alerts.retailer_id),
    stream = coalesce(excluded.stream, bol.alerts.stream), subject = excluded.subject, body = excluded.body,
    dag_id = excluded.dag_id, run_id = excluded.run_id, task_id = excluded.task_id,
    last_attempt_at = excluded.last_attempt_at, attempts = bol.alerts.attempts + 1,
    first_sent_at = coalesce(bol.alerts.first_sent_at, excluded.first_sent_at),
    last_sent_at = coalesce(excluded.last_sent_at, bol.alerts.last_sent_at),
    sends = bol.alerts.sends + excluded.sends, last_error = excluded.last_error, cleared_at = NULL,
    cleared_by = NULL"""


@dataclass(frozen=True)
class AlertAttempt:
    """One attempt to deliver an alert: what it was about, when, and whether it got out."""

    key: str
    kind: str
    subject: str
    body: str
    at: datetime
    sent: bool
    error: str | None = None
    conn_id: str | None = None
    retailer_id: str | None = None
    stream: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None

    def values(self) -> list[Any]:
        sent_at = self.at if self.sent else None
        return [
            self.key,
            self.kind,
            self.conn_id,
            self.retailer_id,
            self.stream,
            self.subject,
            self.body,
            self.dag_id,
            self.run_id,
            self.task_id,
            self.at,
            self.at,
            sent_at,
            sent_at,
            1 if self.sent else 0,
            self.error,
        ]


_pending: list[AlertAttempt] = []
_pending_lock = threading.Lock()


def note(attempt: AlertAttempt) -> None:
    """Record ``attempt`` (see the module docstring); never raises."""
    try:
        target = _task_warehouse()
    except Exception as error:
        log.warning("Alert %r not recorded in bol.alerts: the warehouse is not usable (%s).", attempt.key, error)
        return
    if target is None:
        log.debug("Alert %r not recorded: not sent by an Airflow task.", attempt.key)
        return
    with _pending_lock:
        _pending.append(attempt)
    if _held_by_this_process(target):
        return
    try:
        from bolsync.warehouse.connection import connect_warehouse

        with connect_warehouse(target, lock_timeout=QUICK_LOCK_WAIT) as conn:
            write_pending(conn)
    except Exception as error:
        log.warning(
            "Alert %r not recorded in bol.alerts yet (%s); it goes with this task's next write.", attempt.key, error
        )


def write_pending(conn: Warehouse) -> int:
    """Write every queued attempt of this process on ``conn`` in one transaction; how many. On an error they
    stay queued (and the error is raised)."""
    with _pending_lock:
        attempts = list(_pending)
        del _pending[:]
    if not attempts:
        return 0
    try:
        with conn.transaction():
            for attempt in attempts:
                conn.execute(_UPSERT, attempt.values())
    except BaseException:
        with _pending_lock:
            _pending[:0] = attempts
        raise
    return len(attempts)


def write_pending_quietly(conn: Warehouse) -> None:
    """:func:`write_pending`, logging instead of raising (a caller writing its own row)."""
    try:
        write_pending(conn)
    except Exception as error:
        log.error("Could not write the queued alert rows to bol.alerts: %s", error)


def clear(
    conn: Warehouse,
    *,
    reason: str,
    before: datetime,
    kinds: Sequence[str] = (),
    conn_id: str | None = None,
    stream: str | None = None,
    keys: Iterable[str] | None = None,
    key_prefix: str | None = None,
) -> int:
    """Clear the open alerts last raised before ``before`` that match every filter given; how many."""
    where, params = ["cleared_at IS NULL", "last_attempt_at < ?"], list[Any]([before])
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params += list(kinds)
    for column, value in (("conn_id", conn_id), ("stream", stream)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if keys is not None:
        chosen = list(keys)
        if not chosen:
            return 0
        where.append(f"alert_key IN ({', '.join('?' for _ in chosen)})")
        params += chosen
    if key_prefix is not None:
        where.append("starts_with(alert_key, ?)")
        params.append(key_prefix)
    cleared = conn.query(
        f"UPDATE bol.alerts SET cleared_at = ?, cleared_by = ? WHERE {' AND '.join(where)} RETURNING alert_key",
        [datetime.now(UTC), reason, *params],
    )
    if cleared:
        log.info("Cleared %d alert(s): %s.", len(cleared), reason)
    return len(cleared)


def clear_after_load(
    conn: Warehouse, context: Mapping[str, Any], conn_id: str, stream: str | None, started: datetime
) -> int:
    """A load of ``conn_id`` that started at ``started`` succeeded: clear what it resolves; never raises."""
    ti = context["ti"]
    reason = f"load succeeded: {ti.dag_id} / {ti.run_id}"
    try:
        cleared = clear(conn, reason=reason, before=started, kinds=CLEARED_BY_ANY_LOAD, conn_id=conn_id)
        if stream is not None:
            cleared += clear(
                conn, reason=reason, before=started, kinds=CLEARED_BY_STREAM_LOAD, conn_id=conn_id, stream=stream
            )
    except Exception as error:
        log.error("Could not clear the alerts of %s that this load resolves: %s", conn_id, error)
        return 0
    return cleared


def _task_warehouse() -> WarehouseTarget | None:
    """The warehouse of the running task; None outside a task."""
    from airflow.sdk import get_current_context

    try:
        get_current_context()
    except RuntimeError:
        return None
    from bolsync.warehouse.connection import warehouse_target

    return warehouse_target()


def _held_by_this_process(target: WarehouseTarget) -> bool:
    if target.backend != "duckdb" or target.path is None:
        return False
    from bolsync.warehouse.duckdb_connection import held_by_this_process

    return held_by_this_process(target.path)
