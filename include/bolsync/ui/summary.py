"""The status page's summary of the warehouse: per account, each stream's calendar and holes (with the backfill
that fills each and the planner's estimate), the last runs, the API metrics per day and the open alerts.

A summary is plain JSON data, so it can be cached next to a DuckDB file and shown while a load holds the file.
Reads only: every query is a ``SELECT``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bolsync.planner.plan import backfill_command
from bolsync.runs.coverage_check import estimate_lines
from bolsync.runs.gaps import Hole, Span, check_span, holes
from bolsync.streams.registry import STREAMS
from bolsync.ui.calendar import CALENDAR_DAYS, Window, calendar, calendar_days, today_in_amsterdam
from bolsync.warehouse.base import Warehouse

log = logging.getLogger(__name__)

#: Runs shown per account.
LAST_RUNS = 10
#: Days of API metrics per account (the chart).
METRIC_DAYS = 30


Key = tuple[str, str]


def accounts_in(conn: Warehouse, configured: Sequence[str] = ()) -> list[str]:
    """The configured accounts, then every other account the warehouse has runs or coverage of."""
    rows = conn.query("SELECT conn_id FROM bol.sync_coverage UNION SELECT conn_id FROM bol.sync_runs ORDER BY conn_id")
    found = [str(conn_id) for (conn_id,) in rows]
    return list(dict.fromkeys([*configured, *found]))


def windows_since(conn: Warehouse, since: datetime) -> dict[Key, list[Window]]:
    """Per (stream, account): the synced windows ending after ``since``, oldest first (one query)."""
    rows = conn.query(
        "SELECT stream, conn_id, EXTRACT(EPOCH FROM window_start), EXTRACT(EPOCH FROM window_end), quarantined "
        "FROM bol.sync_coverage WHERE window_end > ? ORDER BY stream, conn_id, window_start",
        [since],
    )  # epoch seconds: converting timestamps with time zones row by row is the slow part of a large read
    result: dict[Key, list[Window]] = defaultdict(list)
    for stream, conn_id, start, end, held in rows:
        window = Window(_from_epoch(start), _from_epoch(end), int(held or 0))
        result[(str(stream), str(conn_id))].append(window)
    return result


def first_synced(conn: Warehouse) -> dict[Key, datetime]:
    """Per (stream, account): the start of its first synced window."""
    rows = conn.query("SELECT stream, conn_id, min(window_start) FROM bol.sync_coverage GROUP BY stream, conn_id")
    return {(str(stream), str(conn_id)): _utc(start) for stream, conn_id, start in rows}


def open_holes(
    stream: str, conn_id: str, windows: Sequence[Window], first: datetime | None, now: datetime, start: date | None
) -> list[Hole]:
    """The holes the coverage check finds (``gaps.check_span`` and ``gaps.holes`` over the last
    ``CALENDAR_DAYS``), from windows read for every account at once."""
    known: list[Span] = [(first, first)] if first is not None else []
    span = check_span(known, start, timedelta(days=CALENDAR_DAYS), now, STREAMS[stream].coverage_lag)
    return holes(stream, conn_id, [(w.start, w.end) for w in windows], span, now) if span else []


def hole_entry(hole: Hole, estimate: bool) -> dict[str, Any]:
    """A hole as the page shows it: its Dutch days, and for one a backfill can fill, the command (and, when
    ``estimate``, an ``estimate`` for :func:`add_estimates` to fill)."""
    spec = STREAMS[hole.stream]
    entry: dict[str, Any] = {
        "stream": hole.stream,
        "kind": hole.kind,
        "first_day": hole.first_day.isoformat(),
        "last_day": hole.last_day.isoformat(),
        "start": _iso(hole.start),
        "end": _iso(hole.end),
    }
    if not spec.keeps_history:
        entry["why"] = f"bol keeps no history of the {spec.title}: a past day cannot be recreated"
    elif hole.kind == "lost":
        entry["why"] = "older than the history bol keeps: it cannot be backfilled any more"
    if hole.kind != "backfill" or spec.backfill_dag is None:
        return entry
    entry["dag_id"] = spec.backfill_dag
    entry["command"] = backfill_command(spec.backfill_dag, hole.first_day, hole.last_day, hole.conn_id)
    entry["conf"] = {"accounts": [hole.conn_id]}
    stream = "" if hole.stream == "orders" else f" --stream {hole.stream}"
    entry["planner"] = (
        f"python -m bolsync.planner{stream} --account {hole.conn_id} --from {hole.first_day} --to {hole.last_day}"
    )
    if estimate:
        entry["estimate"] = None
    return entry


def last_runs(conn: Warehouse, limit: int = LAST_RUNS) -> dict[str, list[dict[str, Any]]]:
    """Per account: its last task tries (``bol.sync_runs``), newest first."""
    keys = ("dag_id", "run_id", "task_id", "stream", "status", "started_at", "finished_at", "api_calls", "error")
    rows = conn.query(
        f"SELECT conn_id, {', '.join(keys)} FROM (SELECT *, row_number() OVER (PARTITION BY conn_id "
        "ORDER BY finished_at DESC, started_at DESC, task_id) AS newest FROM bol.sync_runs) AS ranked "
        "WHERE newest <= ? ORDER BY conn_id, newest",
        [limit],
    )
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for conn_id, *values in rows:
        result[str(conn_id)].append({k: _json(v) for k, v in zip(keys, values, strict=True)})
    return result


def daily_metrics(conn: Warehouse, now: datetime, days: int = METRIC_DAYS) -> dict[str, list[dict[str, Any]]]:
    """Per account: API calls, 429s, token requests and seconds waited for the rate budget per Dutch day (every
    day of the last ``days``, zero when nothing ran), from the runs' counters in ``bol.sync_runs``."""
    first = today_in_amsterdam(now) - timedelta(days=days - 1)
    rows = conn.query(
        "SELECT conn_id, CAST(started_at AT TIME ZONE 'Europe/Amsterdam' AS DATE) AS day, sum(api_calls), "
        "sum(throttled), sum(token_requests), sum(rate_wait_seconds) FROM bol.sync_runs WHERE started_at >= ? "
        "GROUP BY 1, 2",
        [now - timedelta(days=days + 1)],
    )
    by_day: dict[str, dict[date, Sequence[Any]]] = defaultdict(dict)
    for conn_id, day, *values in rows:
        by_day[str(conn_id)][_day(day)] = values
    result = {}
    for conn_id, sums in by_day.items():
        result[conn_id] = [_metric(first + timedelta(days=n), sums.get(first + timedelta(days=n))) for n in range(days)]
    return result


def _metric(day: date, values: Sequence[Any] | None) -> dict[str, Any]:
    calls, throttled, tokens, waited = values or (0, 0, 0, 0.0)
    return {
        "day": day.isoformat(),
        "api_calls": int(calls or 0),
        "throttled": int(throttled or 0),
        "token_requests": int(tokens or 0),
        "rate_wait_seconds": round(float(waited or 0.0), 1),
    }


def open_alerts(conn: Warehouse) -> dict[str | None, list[dict[str, Any]]]:
    """Per account (None: alerts of no account): the alerts not cleared yet, newest first."""
    keys = ("kind", "stream", "subject", "first_attempt_at", "last_attempt_at", "sends", "last_error")
    rows = conn.query(
        f"SELECT conn_id, {', '.join(keys)} FROM bol.alerts WHERE cleared_at IS NULL ORDER BY last_attempt_at DESC"
    )
    result: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for conn_id, *values in rows:
        result[conn_id].append({k: _json(v) for k, v in zip(keys, values, strict=True)})
    return result


def last_auth_failures(conn: Warehouse) -> dict[str, dict[str, Any]]:
    """Per account: its last authentication alert (a refused client id or secret), cleared or not."""
    rows = conn.query(
        "SELECT conn_id, subject, last_attempt_at, cleared_at FROM bol.alerts WHERE kind = 'auth' "
        "AND conn_id IS NOT NULL ORDER BY last_attempt_at"
    )
    return {str(c): {"subject": s, "at": _json(at), "cleared_at": _json(cleared)} for c, s, at, cleared in rows}


def retailers(conn: Warehouse) -> dict[str, str]:
    rows = conn.query(
        "SELECT conn_id, max(retailer_id) FROM (SELECT conn_id, retailer_id FROM bol.sync_coverage "
        "UNION ALL SELECT conn_id, retailer_id FROM bol.sync_runs) AS known GROUP BY conn_id"
    )
    return {str(conn_id): str(retailer) for conn_id, retailer in rows if retailer}


@dataclass(frozen=True)
class Rows:
    """What the page reads from the warehouse, for every account at once (a few queries)."""

    backend: str
    accounts: list[str]
    windows: dict[Key, list[Window]]
    firsts: dict[Key, datetime]
    runs: dict[str, list[dict[str, Any]]]
    metrics: dict[str, list[dict[str, Any]]]
    alerts: dict[str | None, list[dict[str, Any]]]
    auth_failures: dict[str, dict[str, Any]]
    retailers: dict[str, str]


def read_rows(conn: Warehouse, now: datetime, configured: Sequence[str] = ()) -> Rows:
    """Every query the page needs but the estimates."""
    return Rows(
        backend=conn.backend,
        accounts=accounts_in(conn, configured),
        windows=windows_since(conn, now - timedelta(days=CALENDAR_DAYS + 2)),
        firsts=first_synced(conn),
        runs=last_runs(conn),
        metrics=daily_metrics(conn, now),
        alerts=open_alerts(conn),
        auth_failures=last_auth_failures(conn),
        retailers=retailers(conn),
    )


def assemble(rows: Rows, now: datetime, history_start: date | None = None) -> dict[str, Any]:
    """The page's data from ``rows`` (no I/O): calendars, holes and their backfills; the newest fillable hole of
    each account and stream gets ``"estimate": None``, for :func:`add_estimates`."""
    days = calendar_days(today_in_amsterdam(now))
    accounts = []
    for conn_id in rows.accounts:
        streams = []
        for stream in STREAMS:
            spans = rows.windows.get((stream, conn_id), [])
            found = open_holes(stream, conn_id, spans, rows.firsts.get((stream, conn_id)), now, history_start)
            newest = max((h for h in found if h.kind == "backfill"), key=lambda h: h.start, default=None)
            entries = [hole_entry(h, h is newest) for h in reversed(found)]
            states = [str(state) for state in calendar(days, spans, found)]
            streams.append({"stream": stream, "title": STREAMS[stream].title, "states": states, "holes": entries})
        accounts.append(
            {
                "conn_id": conn_id,
                "retailer_id": rows.retailers.get(conn_id),
                "streams": streams,
                "runs": rows.runs.get(conn_id, []),
                "metrics": rows.metrics.get(conn_id) or daily_metrics_empty(now),
                "alerts": rows.alerts.get(conn_id, []),
                "last_auth_failure": rows.auth_failures.get(conn_id),
            }
        )
    return {
        "generated_at": _iso(now),
        "backend": rows.backend,
        "days": [day.isoformat() for day in days],
        "accounts": accounts,
        "alerts": rows.alerts.get(None, []),
    }


def add_estimates(conn: Warehouse, account: dict[str, Any], now: datetime) -> None:
    """The planner's estimate (from the warehouse, no API call) of each hole of ``account`` waiting for one."""
    for stream in account["streams"]:
        for entry in stream["holes"]:
            if "estimate" in entry and entry["estimate"] is None:
                hole = Hole(
                    entry["stream"],
                    account["conn_id"],
                    datetime.fromisoformat(entry["start"]),
                    datetime.fromisoformat(entry["end"]),
                    entry["kind"],
                )
                lines = estimate_lines(conn, hole, account["retailer_id"] or "", now, None)
                entry["estimate"] = [line.strip() for line in lines]


def skip_estimates(summary: dict[str, Any], reason: str) -> None:
    """Say why the holes still waiting for an estimate have none."""
    for account in summary["accounts"]:
        for stream in account["streams"]:
            for entry in stream["holes"]:
                if "estimate" in entry and entry["estimate"] is None:
                    entry["estimate"] = [f"Estimate: not read ({reason}); the planner command gives one."]


def build_summary(
    conn: Warehouse, now: datetime, configured: Sequence[str] = (), history_start: date | None = None
) -> dict[str, Any]:
    """The whole page's warehouse data on one connection (see the module docstring)."""
    summary = assemble(read_rows(conn, now, configured), now, history_start)
    for account in summary["accounts"]:
        add_estimates(conn, account, now)
    return summary


def daily_metrics_empty(now: datetime, days: int = METRIC_DAYS) -> list[dict[str, Any]]:
    first = today_in_amsterdam(now) - timedelta(days=days - 1)
    return [_metric(first + timedelta(days=n), None) for n in range(days)]


def _from_epoch(seconds: Any) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


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
