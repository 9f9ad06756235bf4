"""The status page's summary of the warehouse: per account, each stream's calendar and holes (with the backfill
that fills each and the planner's estimate), the last runs, the API metrics per day and the open alerts.

A summary is plain JSON data, so it can be cached next to a DuckDB file and shown while a load holds the file.
Reads only: every query is a ``SELECT``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bolsync.planner.plan import backfill_command
from bolsync.runs.coverage_check import estimate_lines, open_holes
from bolsync.runs.gaps import Hole
from bolsync.streams.registry import STREAMS
from bolsync.ui.calendar import CALENDAR_DAYS, Window, calendar, calendar_days, today_in_amsterdam
from bolsync.warehouse.base import Warehouse

log = logging.getLogger(__name__)

#: Runs shown per account.
LAST_RUNS = 10
#: Days of API metrics per account (the chart).
METRIC_DAYS = 30
#: Holes per stream and account that get an estimate (the rest are listed with their command only).
MAX_ESTIMATED_HOLES = 5


def accounts_in(conn: Warehouse, configured: Sequence[str] = ()) -> list[str]:
    """The configured accounts, then every other account the warehouse has runs or coverage of."""
    rows = conn.query("SELECT conn_id FROM bol.sync_coverage UNION SELECT conn_id FROM bol.sync_runs ORDER BY conn_id")
    found = [str(conn_id) for (conn_id,) in rows]
    return list(dict.fromkeys([*configured, *found]))


def windows_of(conn: Warehouse, stream: str, conn_id: str, since: datetime) -> list[Window]:
    """The account's synced windows of ``stream`` ending after ``since``."""
    rows = conn.query(
        "SELECT window_start, window_end, quarantined FROM bol.sync_coverage "
        "WHERE stream = ? AND conn_id = ? AND window_end > ? ORDER BY window_start",
        [stream, conn_id, since],
    )
    return [Window(_utc(start), _utc(end), int(held or 0)) for start, end, held in rows]


def hole_entry(conn: Warehouse, hole: Hole, retailer_id: str, now: datetime, estimate: bool) -> dict[str, Any]:
    """A hole as the page shows it: its Dutch days, and for one a backfill can fill, the command and estimate."""
    spec = STREAMS[hole.stream]
    entry: dict[str, Any] = {
        "stream": hole.stream,
        "kind": hole.kind,
        "first_day": hole.first_day.isoformat(),
        "last_day": hole.last_day.isoformat(),
        "start": _iso(hole.start),
        "end": _iso(hole.end),
    }
    if hole.kind != "backfill" or spec.backfill_dag is None:
        return entry
    entry["dag_id"] = spec.backfill_dag
    entry["command"] = backfill_command(spec.backfill_dag, hole.first_day, hole.last_day, hole.conn_id)
    entry["conf"] = {"accounts": [hole.conn_id]}
    if estimate:
        entry["estimate"] = [line.strip() for line in estimate_lines(conn, hole, retailer_id, now, None)]
    return entry


def stream_summary(
    conn: Warehouse, stream: str, conn_id: str, retailer_id: str, now: datetime, history_start: date | None
) -> dict[str, Any]:
    """One stream of one account: the state of each calendar day and its open holes."""
    days = calendar_days(today_in_amsterdam(now))
    since = now - timedelta(days=CALENDAR_DAYS + 1)
    found = open_holes(conn, stream, conn_id, now, history_start, timedelta(days=CALENDAR_DAYS))
    fillable = [h for h in found if h.kind == "backfill"]
    estimated = {id(h) for h in fillable[-MAX_ESTIMATED_HOLES:]}
    return {
        "stream": stream,
        "title": STREAMS[stream].title,
        "states": [str(state) for state in calendar(days, windows_of(conn, stream, conn_id, since), found)],
        "holes": [hole_entry(conn, h, retailer_id, now, id(h) in estimated) for h in reversed(found)],
    }


def last_runs(conn: Warehouse, conn_id: str, limit: int = LAST_RUNS) -> list[dict[str, Any]]:
    """The account's last task tries (``bol.sync_runs``), newest first."""
    rows = conn.query(
        "SELECT dag_id, run_id, task_id, stream, status, started_at, finished_at, api_calls, error "
        "FROM bol.sync_runs WHERE conn_id = ? ORDER BY finished_at DESC LIMIT ?",
        [conn_id, limit],
    )
    keys = ("dag_id", "run_id", "task_id", "stream", "status", "started_at", "finished_at", "api_calls", "error")
    return [{k: _json(v) for k, v in zip(keys, row, strict=True)} for row in rows]


def daily_metrics(conn: Warehouse, conn_id: str, now: datetime, days: int = METRIC_DAYS) -> list[dict[str, Any]]:
    """API calls, 429s, token requests and seconds waited for the rate budget per Dutch day (every day of the
    last ``days``, zero when nothing ran), from the runs' counters in ``bol.sync_runs``."""
    first = today_in_amsterdam(now) - timedelta(days=days - 1)
    rows = conn.query(
        "SELECT CAST(started_at AT TIME ZONE 'Europe/Amsterdam' AS DATE) AS day, sum(api_calls), sum(throttled), "
        "sum(token_requests), sum(rate_wait_seconds) FROM bol.sync_runs "
        "WHERE conn_id = ? AND started_at >= ? GROUP BY 1 ORDER BY 1",
        [conn_id, now - timedelta(days=days + 1)],
    )
    by_day = {_day(day): values for day, *values in rows}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        calls, throttled, tokens, waited = by_day.get(day, (0, 0, 0, 0.0))
        result.append(
            {
                "day": day.isoformat(),
                "api_calls": int(calls or 0),
                "throttled": int(throttled or 0),
                "token_requests": int(tokens or 0),
                "rate_wait_seconds": round(float(waited or 0.0), 1),
            }
        )
    return result


def open_alerts(conn: Warehouse, conn_id: str | None) -> list[dict[str, Any]]:
    """The alerts not cleared yet of an account (None: those of no account), newest first."""
    where = "conn_id = ?" if conn_id is not None else "conn_id IS NULL"
    rows = conn.query(
        "SELECT kind, stream, subject, first_attempt_at, last_attempt_at, sends, last_error FROM bol.alerts "
        f"WHERE cleared_at IS NULL AND {where} ORDER BY last_attempt_at DESC",
        [conn_id] if conn_id is not None else [],
    )
    keys = ("kind", "stream", "subject", "first_attempt_at", "last_attempt_at", "sends", "last_error")
    return [{k: _json(v) for k, v in zip(keys, row, strict=True)} for row in rows]


def last_auth_failure(conn: Warehouse, conn_id: str) -> dict[str, Any] | None:
    """The account's last authentication alert (a refused client id or secret), cleared or not."""
    rows = conn.query(
        "SELECT subject, last_attempt_at, cleared_at FROM bol.alerts WHERE kind = 'auth' AND conn_id = ? "
        "ORDER BY last_attempt_at DESC LIMIT 1",
        [conn_id],
    )
    if not rows:
        return None
    subject, at, cleared = rows[0]
    return {"subject": subject, "at": _json(at), "cleared_at": _json(cleared)}


def retailer_of(conn: Warehouse, conn_id: str) -> str | None:
    value = conn.scalar(
        "SELECT max(retailer_id) FROM (SELECT retailer_id FROM bol.sync_coverage WHERE conn_id = ? "
        "UNION ALL SELECT retailer_id FROM bol.sync_runs WHERE conn_id = ?) AS known",
        [conn_id, conn_id],
    )
    return str(value) if value else None


def account_summary(conn: Warehouse, conn_id: str, now: datetime, history_start: date | None) -> dict[str, Any]:
    retailer_id = retailer_of(conn, conn_id)
    return {
        "conn_id": conn_id,
        "retailer_id": retailer_id,
        "streams": [stream_summary(conn, s, conn_id, retailer_id or "", now, history_start) for s in STREAMS],
        "runs": last_runs(conn, conn_id),
        "metrics": daily_metrics(conn, conn_id, now),
        "alerts": open_alerts(conn, conn_id),
        "last_auth_failure": last_auth_failure(conn, conn_id),
    }


def build_summary(
    conn: Warehouse, now: datetime, configured: Sequence[str] = (), history_start: date | None = None
) -> dict[str, Any]:
    """The whole page's warehouse data (see the module docstring)."""
    days = calendar_days(today_in_amsterdam(now))
    return {
        "generated_at": _iso(now),
        "backend": conn.backend,
        "days": [day.isoformat() for day in days],
        "accounts": [account_summary(conn, c, now, history_start) for c in accounts_in(conn, configured)],
        "alerts": open_alerts(conn, None),
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat()


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
