"""The nightly coverage check (DAG ``bol_coverage_check``): holes in the last months per account and stream.

Each hole is alerted once (``bol.coverage_alerts``, remembered once its mail got out); a hole that grows is
alerted again for its new part only, and a hole that gets filled is forgotten (should it open again, it is
alerted again). A coverage alert in ``bol.alerts`` is cleared once none of its holes is remembered any more.
The estimate of each backfill comes from the planner's ``history`` mode: no API call.

Records held in the quarantine (``runs.quarantine``: covered windows that landed without them) are listed every
night until none is left, and alerted if no alert named them yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bolsync.planner.plan import HISTORY_SAMPLE_DAYS, backfill_command, history_plan
from bolsync.planner.report import duration
from bolsync.runs import alert_log, alerts, config, quarantine
from bolsync.runs.coverage import STREAMS, covered_windows
from bolsync.runs.gaps import Hole, Span, check_span, holes, subtract
from bolsync.streams import registry
from bolsync.warehouse.base import Warehouse
from bolsync_provider.config import get_variable
from bolsync_provider.errors import BolConfigError, BolError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.settings import BolConnectionSettings

log = logging.getLogger(__name__)

HISTORY_START_VARIABLE = "bolsync_coverage_history_start"
LOOKBACK_VARIABLE = "bolsync_coverage_lookback_days"
DEFAULT_LOOKBACK_DAYS = 100.0
ORDERS = "orders"


def history_start(raw: str | None) -> date | None:
    """Variable ``bolsync_coverage_history_start``: the day coverage is expected from (default: the first synced)."""
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw).strip().strip('"'))
    except ValueError:
        raise BolConfigError(
            f"Variable {HISTORY_START_VARIABLE} must be a date YYYY-MM-DD (the first Dutch day every account must "
            f"be synced from), got {raw!r}; delete it to start at each account's first synced window."
        ) from None


def lookback(raw: str | None) -> timedelta:
    """Variable ``bolsync_coverage_lookback_days``: how far back holes are looked for (default 100 days)."""
    days = config.number(f"Variable {LOOKBACK_VARIABLE}", raw, default=DEFAULT_LOOKBACK_DAYS, minimum=1, maximum=3660)
    return timedelta(days=days)


def open_holes(
    conn: Warehouse, stream: str, conn_id: str, now: datetime, start: date | None, back: timedelta
) -> list[Hole]:
    """Every hole of the account's stream in the checked span (see ``gaps.check_span``)."""
    covered: list[Span] = [(c.start, c.end) for c in covered_windows(conn, stream, conn_id)]
    span = check_span(covered, start, back, now, registry.stream(stream).coverage_lag)
    return holes(stream, conn_id, covered, span, now) if span else []


def alerted_spans(conn: Warehouse, stream: str, conn_id: str) -> list[Span]:
    rows = conn.query(
        "SELECT hole_start, hole_end FROM bol.coverage_alerts WHERE stream = ? AND conn_id = ?", [stream, conn_id]
    )
    return [(start, end) for start, end in rows]


def forget_filled(conn: Warehouse, stream: str, conn_id: str, open_spans: Sequence[Span]) -> int:
    """Drop remembered holes no open hole overlaps any more (filled by a backfill or a rerun)."""
    dropped = 0
    for start, end in alerted_spans(conn, stream, conn_id):
        if not any(s < end and start < e for s, e in open_spans):
            conn.execute(
                "DELETE FROM bol.coverage_alerts WHERE stream = ? AND conn_id = ? AND hole_start = ? AND hole_end = ?",
                [stream, conn_id, start, end],
            )
            dropped += 1
    return dropped


def new_holes(conn: Warehouse, found: Sequence[Hole]) -> list[Hole]:
    """The parts of ``found`` not alerted yet."""
    result = []
    for hole in found:
        done = alerted_spans(conn, hole.stream, hole.conn_id)
        for start, end in subtract([(hole.start, hole.end)], done):
            result.append(Hole(hole.stream, hole.conn_id, start, end, hole.kind))
    return result


def remember(conn: Warehouse, alerted: Sequence[Hole], now: datetime, alert_key: str | None = None) -> None:
    for hole in alerted:
        conn.execute(
            """INSERT INTO bol.coverage_alerts (stream, conn_id, hole_start, hole_end, kind, alerted_at, alert_key)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (stream, conn_id, hole_start, hole_end) DO UPDATE SET alerted_at = excluded.alerted_at,
                   alert_key = excluded.alert_key""",
            [hole.stream, hole.conn_id, hole.start, hole.end, hole.kind, now, alert_key],
        )


def clear_resolved(conn: Warehouse, stream: str, conn_id: str, now: datetime) -> int:
    """Clear the account's coverage alerts none of whose holes is remembered any more (filled, out of the
    checked span, or reported again by a later alert after its own mail failed)."""
    remembered = {
        key
        for (key,) in conn.query(
            "SELECT DISTINCT alert_key FROM bol.coverage_alerts WHERE stream = ? AND conn_id = ?", [stream, conn_id]
        )
    }
    opened = conn.query(
        "SELECT alert_key FROM bol.alerts WHERE kind = 'coverage' AND stream = ? AND conn_id = ? "
        "AND cleared_at IS NULL",
        [stream, conn_id],
    )
    resolved = [key for (key,) in opened if key not in remembered]
    reason = "coverage check: none of its holes is open and alerted any more"
    return alert_log.clear(conn, reason=reason, before=now, keys=resolved) + clear_covered_unsettled(
        conn, stream, conn_id, now
    )


def clear_covered_unsettled(conn: Warehouse, stream: str, conn_id: str, now: datetime) -> int:
    """Clear the account's open alerts of windows whose list never settled once a later load covers them."""
    from bolsync.orders.unsettled import UNSETTLED, window_of_key

    opened = conn.query(
        "SELECT alert_key FROM bol.alerts WHERE kind = ? AND stream = ? AND conn_id = ? AND cleared_at IS NULL",
        [UNSETTLED, stream, conn_id],
    )
    covered: list[Span] = [(c.start, c.end) for c in covered_windows(conn, stream, conn_id)]
    resolved = []
    for (key,) in opened:
        window = window_of_key(key)
        if window is not None and not subtract([(window.start, window.end)], covered):
            resolved.append(key)
    return alert_log.clear(conn, reason="coverage check: a later load covered the window", before=now, keys=resolved)


def describe(conn: Warehouse, hole: Hole, retailer_id: str, now: datetime, settings: Any) -> str:
    """What a hole is and what fills it (the backfill of its stream's DAG, with the planner's estimate)."""
    spec = registry.stream(hole.stream)
    days = f"{hole.first_day} .. {hole.last_day}" if hole.first_day != hole.last_day else f"{hole.first_day}"
    head = f"{hole.stream} of {hole.conn_id}, {days} (Europe/Amsterdam; {_iso(hole.start)} .. {_iso(hole.end)})"
    if not spec.keeps_history:
        return (
            f"LOST: {head}. bol keeps no history of the {spec.title}, so these days cannot be recreated; "
            f"{spec.dags[0]} only syncs them as they are now. Look at why its runs failed, so it does not recur."
        )
    oldest = spec.oldest_served(now)
    if hole.kind == "lost":
        return (
            f"LOST: {head}. Older than the history bol keeps of the {spec.title} (bol serves from {oldest}): it "
            "cannot be backfilled any more."
        )
    dag_id = str(spec.backfill_dag)
    lines = [
        f"BACKFILL: {head}.",
        f"  CLI: {backfill_command(dag_id, hole.first_day, hole.last_day, hole.conn_id)}",
        f"  UI: {dag_id} > Trigger > Backfill, From {hole.first_day} To {hole.last_day}, "
        f'run conf {{"accounts": ["{hole.conn_id}"]}}.',
    ]
    lines += estimate_lines(conn, hole, retailer_id, now, settings)
    if oldest is not None and hole.first_day <= oldest + timedelta(days=7):
        lines.append(f"  Soon lost: bol serves the {spec.title} from {oldest}; backfill it now.")
    return "\n".join(lines)


def estimate_lines(conn: Warehouse, hole: Hole, retailer_id: str, now: datetime, settings: Any) -> list[str]:
    """The planner's estimate of the backfill that fills ``hole`` (from the warehouse, no API call)."""
    if hole.stream == ORDERS:
        return _orders_estimate(conn, hole, retailer_id, now, settings)
    return _stream_estimate(conn, hole, now, settings)


def _stream_estimate(conn: Warehouse, hole: Hole, now: datetime, settings: Any) -> list[str]:
    """The estimate of another stream's planner (from the warehouse, no API call), if it has one."""
    from bolsync.planner.plan import PlanInputError
    from bolsync.planner.streams import stream_plan

    spec = registry.stream(hole.stream)
    try:
        plan = stream_plan(conn, spec, hole.conn_id, hole.first_day, hole.last_day, now, settings)
    except PlanInputError as error:
        return [f"  Estimate: none ({error})"]
    return [
        f"  Estimate (planner, from the warehouse, no API call): about {plan.estimate.total} API calls, at least "
        f"{duration(plan.wall_seconds)} ({plan.estimate.note})."
    ]


def _orders_estimate(conn: Warehouse, hole: Hole, retailer_id: str, now: datetime, settings: Any) -> list[str]:
    plan = history_plan(conn, hole.conn_id, retailer_id, (hole.first_day, hole.last_day), now, settings)
    if not retailer_id or not plan.details:
        lines = ["  Estimate: no order history of this account in the warehouse to estimate from."]
    else:
        lines = [
            f"  Estimate (planner, history mode: the account's mean daily volume over {HISTORY_SAMPLE_DAYS} days, no "
            f"API call): about {plan.calls} API calls ({plan.list_calls} list, {plan.details} details), at least "
            f"{duration(plan.wall_seconds)}."
        ]
    lines.append(
        f"  A closer estimate (a few list calls per day): python -m bolsync.planner --account {hole.conn_id} "
        f"--from {hole.first_day} --to {hole.last_day}"
    )
    return lines


def coverage_alert(
    stream: str, conn_id: str, retailer_id: str | None, texts: Sequence[str], holes_: Sequence[Hole], day: date
) -> alerts.Alert:
    """One message for the new holes of an account's stream; its key stops a retry of the same day's check
    from sending it twice (``bol.coverage_alerts`` is what remembers holes from night to night)."""
    spans = ",".join(f"{_iso(h.start)}/{_iso(h.end)}" for h in holes_)
    lost = sum(1 for h in holes_ if h.kind == "lost")
    what = f"{len(holes_)} hole(s)" + (f", {lost} lost" if lost else "")
    return alerts.Alert(
        conn_id=conn_id,
        stream=stream,
        retailer_id=retailer_id,
        kind="coverage",
        key=f"coverage:{day}:{stream}:{conn_id}:{spans}",
        subject=f"[bolsync] {stream} of {conn_id}: {what} in the synced history",
        body=f"Connection: {conn_id}\nRetailer: {retailer_id or 'unknown'}\nStream: {stream}\n\n"
        "No successful load covers these windows (a failed run nobody re-ran, a paused DAG):\n\n"
        + "\n\n".join(texts)
        + "\n\nEach hole is alerted once; table bol.sync_coverage shows what is covered, bol.coverage_alerts what "
        "was alerted.",
    )


def check_coverage(conn: Warehouse, accounts: Sequence[str], now: datetime, context: Any) -> dict[str, Any]:
    """Find every account's holes, alert the new ones (one message per account and stream), remember them."""
    start, back = history_start(get_variable(HISTORY_START_VARIABLE)), lookback(get_variable(LOOKBACK_VARIABLE))
    summary: dict[str, Any] = {}
    for conn_id in accounts:
        settings = _settings(conn_id)
        for stream in STREAMS:
            found = open_holes(conn, stream, conn_id, now, start, back)
            forget_filled(conn, stream, conn_id, [(h.start, h.end) for h in found])
            clear_resolved(conn, stream, conn_id, now)
            fresh = new_holes(conn, found)
            summary[f"{conn_id}/{stream}"] = {
                "open": len(found),
                "alerted": len(fresh),
                "quarantined": report_held(conn, stream, conn_id, context),
            }
            for hole in found:
                log.info("Open hole: %s %s %s .. %s (%s)", conn_id, stream, _iso(hole.start), _iso(hole.end), hole.kind)
            if not fresh:
                continue
            retailer_id = _retailer(conn, stream, conn_id)
            texts = [describe(conn, hole, retailer_id or "", now, settings) for hole in fresh]
            alert = coverage_alert(stream, conn_id, retailer_id, texts, fresh, now.date())
            log.warning("%s\n%s", alert.subject, alert.body)
            if alerts.deliver(alert, context) is alerts.Delivery.FAILED:
                continue  # not remembered: the next check alerts these holes again
            remember(conn, fresh, now, alert.key)
    return summary


def check_note(summary: dict[str, Any], shown: int = 8) -> str:
    """The check's result in a line or two for the DAG run's note (``summary``: :func:`check_coverage`'s)."""
    holed = {key: counts["open"] for key, counts in summary.items() if counts["open"]}
    alerted = sum(counts["alerted"] for counts in summary.values())
    held = sum(counts["quarantined"] for counts in summary.values())
    if holed:
        listed = ", ".join(f"{key}: {count}" for key, count in list(holed.items())[:shown])
        more = f", and {len(holed) - shown} more" if len(holed) > shown else ""
        text = (
            f"Coverage check: {sum(holed.values())} open hole(s) in {len(holed)} of {len(summary)} account "
            f"streams ({listed}{more}); {alerted} newly alerted."
        )
    else:
        text = f"Coverage check: no holes in {len(summary)} account streams."
    if held:
        text += f" {held} record(s) held in the quarantine."
    if holed or held:
        text += " The bolsync page (Airflow UI, menu bolsync) shows each hole and the backfill that fills it."
    return text


def report_held(conn: Warehouse, stream: str, conn_id: str, context: Any) -> int:
    """List the account's records of ``stream`` held in the quarantine, alert those no alert named yet; how many."""
    held = quarantine.open_records(conn, stream, conn_id)
    if held:
        shown = "\n".join(f"- {record.describe()}" for record in held[: quarantine.MAX_SHOWN])
        more = f"\n- ... and {len(held) - quarantine.MAX_SHOWN} more" if len(held) > quarantine.MAX_SHOWN else ""
        log.warning(
            "%d %s record(s) of %s held in %s (their windows landed without them):\n%s%s",
            len(held),
            stream,
            conn_id,
            quarantine.TABLE,
            shown,
            more,
        )
        quarantine.alert_new(conn, stream, conn_id, context)
    return len(held)


def run_check(context: Any, accounts: Sequence[str]) -> dict[str, Any]:
    """The task's body: one warehouse connection for the whole check."""
    from bolsync.warehouse.connection import connect_warehouse, warehouse_target

    with connect_warehouse(warehouse_target()) as conn:
        summary = check_coverage(conn, accounts, datetime.now(UTC), context)
        alert_log.write_pending_quietly(conn)  # the alerts sent while this process held the warehouse
        return summary


def _settings(conn_id: str) -> BolConnectionSettings | None:
    """The account's rate limits for the estimate (no request); bol's defaults if the connection is unusable."""
    try:
        return BolRetailerHook(conn_id).settings
    except BolError as error:
        log.warning("Connection %s: %s; estimating with bol's default limits.", conn_id, error)
        return None


def _retailer(conn: Warehouse, stream: str, conn_id: str) -> str | None:
    value = conn.scalar(
        "SELECT max(retailer_id) FROM bol.sync_coverage WHERE stream = ? AND conn_id = ?", [stream, conn_id]
    )
    return str(value) if value else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
