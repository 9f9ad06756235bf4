"""The status page as HTML: an inline SVG chart and one small script; every value from the warehouse is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote

from bolsync.ui.calendar import DayState
from bolsync.ui.snapshot import Snapshot

COLOURS = {
    DayState.SYNCED: "#2e7d32",
    DayState.PARTIAL: "#f9a825",
    DayState.HOLE: "#c62828",
    DayState.LOST: "#424242",
    DayState.NONE: "#e0e0e0",
}
LEGEND = {
    DayState.SYNCED: "synced",
    DayState.PARTIAL: "partly synced or records quarantined",
    DayState.HOLE: "hole: a backfill fills it",
    DayState.LOST: "lost: beyond the history bol keeps",
    DayState.NONE: "nothing expected (not due yet, or before the first sync)",
}
STYLE = """body{font-family:system-ui,sans-serif;margin:1rem 2rem;color:#212121}table{border-collapse:collapse}
td,th{padding:2px 6px;text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
.cal td{padding:0}.cal span{display:inline-block;width:7px;height:14px;margin-right:1px}.stale{background:#fff3e0;
padding:.5rem;border-left:4px solid #f9a825}code{background:#f5f5f5;padding:1px 3px;word-break:break-all}
section{border-top:1px solid #ddd;margin-top:1rem}.muted{color:#757575}pre{white-space:pre-wrap;margin:0}"""

#: The Airflow UI shows the page in a sandboxed frame that may not navigate the UI's window: a link of the page
#: moves the UI (its router follows the history) to the link's page; opened on its own, links work as usual.
OPEN_IN_UI = """document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a[href]");
  if (!link || window.parent === window) return;
  try {
    var ui = window.parent;
    if (ui.location.origin !== window.location.origin) return;
    event.preventDefault();
    ui.history.pushState(null, "", link.getAttribute("href"));
    ui.dispatchEvent(new PopStateEvent("popstate", {state: null}));
  } catch (error) {}
});"""


def page(
    snapshot: Snapshot,
    now: datetime,
    tokens: Mapping[str, Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    ui_base: str,
) -> str:
    """The whole page."""
    parts = [f"<h1>bolsync status</h1>{freshness(snapshot, now)}", dag_results(results, ui_base)]
    summary = snapshot.summary
    if summary is not None:
        parts.append(legend())
        if summary["alerts"]:
            parts.append(f"<h2>Open alerts of no account</h2>{alerts(summary['alerts'])}")
        for account in summary["accounts"]:
            parts.append(account_section(account, summary["days"], tokens.get(account["conn_id"], {}), ui_base))
        if not summary["accounts"]:
            parts.append("<p>No account has synced yet.</p>")
    body = "\n".join(parts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bolsync status</title>'
        f"<style>{STYLE}</style></head><body>{body}<script>{OPEN_IN_UI}</script></body></html>"
    )


def freshness(snapshot: Snapshot, now: datetime) -> str:
    age = snapshot.age(now)
    if snapshot.summary is None:
        return f'<p class="stale">No summary to show: {escape(snapshot.stale_because or "unknown")}.</p>'
    read = f"Read from the {escape(snapshot.summary['backend'])} warehouse {_age(age)} ago"
    if snapshot.stale_because:
        return f'<p class="stale">{read}: {escape(snapshot.stale_because)}, so this is the last summary.</p>'
    return f'<p class="muted">{read}; Dutch days (Europe/Amsterdam).</p>'


def dag_results(results: Sequence[Mapping[str, Any]], ui_base: str) -> str:
    if not results:
        return ""
    rows = "".join(
        f'<tr><td><a href="{_run_url(ui_base, r["dag_id"], r["run_id"])}">{escape(r["dag_id"])}</a></td>'
        f"<td>{escape(r['state'])}</td><td>{escape(str(r['run_after'] or ''))}</td>"
        f"<td><pre>{escape(r['note'] or '')}</pre></td></tr>"
        for r in results
    )
    head = "<tr><th>DAG</th><th>state</th><th>run after</th><th>result</th></tr>"
    return f"<h2>Last plan and coverage check</h2><table>{head}{rows}</table>"


def legend() -> str:
    items = "".join(f'<span style="background:{COLOURS[s]}"></span> {escape(LEGEND[s])} &nbsp;' for s in DayState)
    return f'<p class="cal">{items}</p>'


def account_section(account: Mapping[str, Any], days: Sequence[str], token: Mapping[str, Any], ui_base: str) -> str:
    conn_id = account["conn_id"]
    retailer = f" (retailer {escape(account['retailer_id'])})" if account["retailer_id"] else ""
    parts = [
        f'<section id="{escape(conn_id)}"><h2>{escape(conn_id)}{retailer}</h2>',
        token_line(token, account.get("last_auth_failure")),
        calendar_table(account["streams"], days),
        holes(account["streams"], ui_base),
        "<h3>API use per day</h3>",
        chart(account["metrics"]),
        metrics_table(account["metrics"]),
        "<h3>Last runs</h3>",
        runs(account["runs"], ui_base),
    ]
    if account["alerts"]:
        parts += ["<h3>Open alerts</h3>", alerts(account["alerts"])]
    return "\n".join(parts) + "</section>"


def token_line(token: Mapping[str, Any], auth_failure: Mapping[str, Any] | None) -> str:
    state = token.get("state", "unknown")
    text = {
        "none": "no token cached yet",
        "unreadable": "the cached token is unreadable (the next run fetches a new one)",
        "refused": "bol refused the cached token; the next run fetches a new one",
    }.get(state, state)
    if "valid_until" in token:
        text += f", valid until {escape(token['valid_until'])}"
    if "fetched_at" in token:
        text += f", fetched {escape(token['fetched_at'])}"
    failure = "none"
    if auth_failure:
        cleared = " (cleared)" if auth_failure.get("cleared_at") else ""
        failure = f"{escape(str(auth_failure['at']))}{cleared}: {escape(auth_failure['subject'])}"
    return f"<p>Token: {escape(text)}. Last authentication failure: {failure}.</p>"


def calendar_table(streams: Sequence[Mapping[str, Any]], days: Sequence[str]) -> str:
    rows = []
    for stream in streams:
        cells = "".join(
            f'<span style="background:{COLOURS[DayState(state)]}" title="{escape(day)}: {escape(state)}"></span>'
            for day, state in zip(days, stream["states"], strict=True)
        )
        rows.append(f'<tr><th>{escape(stream["stream"])}</th><td class="cal">{cells}</td></tr>')
    head = f'<tr><td></td><td class="muted">{escape(days[0])} .. {escape(days[-1])}</td></tr>' if days else ""
    return f"<table>{head}{''.join(rows)}</table>"


def holes(streams: Sequence[Mapping[str, Any]], ui_base: str) -> str:
    items = []
    for stream in streams:
        for hole in stream["holes"]:
            days = (
                hole["first_day"]
                if hole["first_day"] == hole["last_day"]
                else f"{hole['first_day']} .. {hole['last_day']}"
            )
            head = f"<b>{escape(stream['stream'])}</b>, {escape(days)}"
            if "command" not in hole:
                items.append(f"<li>{head}: lost, {escape(hole.get('why', 'it cannot be backfilled'))}.</li>")
                continue
            dag = escape(hole["dag_id"])
            estimate = "".join(f"<br>{escape(line)}" for line in hole.get("estimate") or [])
            if hole["planner"] not in estimate:
                estimate += f"<br>Plan it: <code>{escape(hole['planner'])}</code>"
            items.append(
                f'<li>{head}: a hole. <a href="{_dag_url(ui_base, hole["dag_id"])}">Open {dag}</a>, Trigger &gt; '
                f"Backfill, From {escape(hole['first_day'])} To {escape(hole['last_day'])}, run conf "
                f'<code>{{"accounts": ["{escape(hole["conf"]["accounts"][0])}"]}}</code>; or '
                f"<code>{escape(hole['command'])}</code>{estimate}</li>"
            )
    return f"<h3>Holes</h3><ul>{''.join(items)}</ul>" if items else "<p>No holes.</p>"


def chart(metrics: Sequence[Mapping[str, Any]], width: int = 600, height: int = 80) -> str:
    """API calls per day as bars, the 429s in red on top, the budget wait as a line."""
    if not metrics:
        return ""
    top = max(1, *(m["api_calls"] for m in metrics))
    wait_top = max(1.0, *(m["rate_wait_seconds"] for m in metrics))
    step = width / len(metrics)
    bars, points = [], []
    for n, m in enumerate(metrics):
        x = n * step
        h = m["api_calls"] / top * height
        red = m["throttled"] / top * height
        bars.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" fill="#1565c0">'
            f"<title>{escape(m['day'])}: {m['api_calls']} calls, {m['throttled']} 429s, {m['token_requests']} token "
            f"requests, {m['rate_wait_seconds']}s budget wait</title></rect>"
        )
        if red:
            bars.append(
                f'<rect x="{x:.1f}" y="{height - red:.1f}" width="{step * 0.8:.1f}" height="{red:.1f}" fill="#c62828"/>'
            )
        points.append(f"{x + step * 0.4:.1f},{height - m['rate_wait_seconds'] / wait_top * height:.1f}")
    line = f'<polyline points="{" ".join(points)}" fill="none" stroke="#f9a825" stroke-width="1.5"/>'
    caption = (
        f'<p class="muted">Bars: API calls per day (max {top}), red: 429s; line: seconds waited for the rate '
        f"budget (max {wait_top:g}).</p>"
    )
    return (
        f'<svg role="img" aria-label="API calls per day" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(bars)}{line}</svg>{caption}'
    )


def metrics_table(metrics: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(m['day'])}</td><td>{m['api_calls']}</td><td>{m['throttled']}</td>"
        f"<td>{m['token_requests']}</td><td>{m['rate_wait_seconds']}</td></tr>"
        for m in reversed(metrics)
        if m["api_calls"] or m["token_requests"] or m["rate_wait_seconds"]
    )
    head = "<tr><th>day</th><th>API calls</th><th>429s</th><th>token requests</th><th>budget wait (s)</th></tr>"
    return f'<details><summary>Per day</summary><table class="metrics">{head}{rows}</table></details>'


def runs(items: Sequence[Mapping[str, Any]], ui_base: str) -> str:
    if not items:
        return "<p>No runs yet.</p>"
    rows = "".join(
        f'<tr><td><a href="{_run_url(ui_base, r["dag_id"], r["run_id"])}">{escape(r["dag_id"])}</a></td>'
        f"<td>{escape(str(r['stream'] or ''))}</td><td>{escape(r['status'])}</td><td>{escape(r['finished_at'])}</td>"
        f"<td>{r['api_calls'] if r['api_calls'] is not None else ''}</td><td>{escape(r['error'] or '')}</td></tr>"
        for r in items
    )
    head = "<tr><th>DAG</th><th>stream</th><th>state</th><th>finished</th><th>API calls</th><th>error</th></tr>"
    return f"<table>{head}{rows}</table>"


def alerts(items: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(a['kind'])}</td><td>{escape(str(a['stream'] or ''))}</td><td>{escape(a['subject'])}</td>"
        f"<td>{escape(a['last_attempt_at'])}</td></tr>"
        for a in items
    )
    return f"<table><tr><th>kind</th><th>stream</th><th>subject</th><th>last sent</th></tr>{rows}</table>"


def _dag_url(ui_base: str, dag_id: str) -> str:
    return escape(f"{ui_base}/dags/{quote(dag_id, safe='')}")


def _run_url(ui_base: str, dag_id: str, run_id: str) -> str:
    return escape(f"{ui_base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}")


def _age(age: timedelta | None) -> str:
    seconds = int(age.total_seconds()) if age is not None else 0
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
