"""The demo's closing summary: DAG run states, warehouse rows and API usage."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

TABLES = ("bol.orders", "bol.order_items", "bol.sync_runs")


@dataclass
class WarehouseSummary:
    """What the warehouse file holds, and what this demo's task tries recorded in bol.sync_runs."""

    path: Path
    error: str | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    per_retailer: list[tuple[str, int, int]] = field(default_factory=list)
    sync_runs: dict[str, float] = field(default_factory=dict)
    sync_run_statuses: dict[str, int] = field(default_factory=dict)
    orders_in_windows: int = 0
    new_orders: int = 0

    @property
    def orders(self) -> int:
        """Rows in bol.orders."""
        return self.table_rows.get("bol.orders", 0)


@dataclass
class ApiUsage:
    """Request counts from the emulator's ``/_emulator/stats``."""

    api_calls: int = 0
    token_requests: int = 0
    throttled: int = 0
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None


def read_warehouse(path: Path, since: datetime, attempts: int = 10) -> WarehouseSummary:
    """Open the DuckDB file read-only (retrying while a writer still holds it) and summarise it."""
    summary = WarehouseSummary(path)
    if not path.exists():
        summary.error = "the warehouse file does not exist (no load task succeeded)"
        return summary
    for attempt in range(1, attempts + 1):
        try:
            conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            if attempt == attempts:
                summary.error = f"could not open it read-only: {error}"
                return summary
            time.sleep(1)
            continue
        try:
            _fill(conn, summary, since)
        except duckdb.Error as error:
            summary.error = f"could not read it: {error}"
        finally:
            conn.close()
        break
    return summary


def _fill(conn: duckdb.DuckDBPyConnection, summary: WarehouseSummary, since: datetime) -> None:
    existing = {
        f"{schema}.{name}"
        for schema, name in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    }
    for table in TABLES:
        summary.table_rows[table] = _scalar(conn, f"SELECT count(*) FROM {table}") if table in existing else 0
    if "bol.orders" in existing and "bol.order_items" in existing:
        summary.per_retailer = [
            (str(r), int(o), int(i))
            for r, o, i in conn.execute(
                "SELECT o.retailer_id, count(DISTINCT o.order_id), count(i.order_item_id) "
                "FROM bol.orders o LEFT JOIN bol.order_items i USING (retailer_id, order_id) "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
        ]
        summary.new_orders = _scalar(conn, "SELECT count(*) FROM bol.orders WHERE first_synced_at >= ?", [since])
    if "bol.sync_runs" in existing:
        _fill_sync_runs(conn, summary, since)


def _fill_sync_runs(conn: duckdb.DuckDBPyConnection, summary: WarehouseSummary, since: datetime) -> None:
    row = conn.execute(
        "SELECT count(*), coalesce(sum(api_calls), 0), coalesce(sum(token_requests), 0), "
        "coalesce(sum(throttled), 0), coalesce(sum(retries), 0), coalesce(sum(rate_wait_seconds), 0), "
        "coalesce(sum(order_details_fetched), 0) FROM bol.sync_runs WHERE started_at >= ?",
        [since],
    ).fetchone()
    keys = (
        "task_tries",
        "api_calls",
        "token_requests",
        "throttled",
        "retries",
        "rate_wait_seconds",
        "order_details_fetched",
    )
    summary.sync_runs = {k: float(v or 0) for k, v in zip(keys, row or (), strict=False)}
    summary.sync_run_statuses = {
        f"{task}/{status}": int(n)
        for task, status, n in conn.execute(
            "SELECT task_id, status, count(*) FROM bol.sync_runs WHERE started_at >= ? GROUP BY 1, 2 ORDER BY 1, 2",
            [since],
        ).fetchall()
    }
    if "bol.order_items" in {
        f"{s}.{t}" for s, t in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    }:
        summary.orders_in_windows = _scalar(
            conn,
            "WITH w AS (SELECT DISTINCT retailer_id, window_start, window_end FROM bol.sync_runs "
            "  WHERE started_at >= ? AND status = 'success' AND task_id LIKE '%load') "
            "SELECT count(DISTINCT (i.retailer_id, i.order_id)) FROM bol.order_items i JOIN w "
            "  ON i.retailer_id = w.retailer_id AND i.latest_changed_at >= w.window_start "
            "  AND i.latest_changed_at < w.window_end",
            [since],
        )


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = conn.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def api_usage(stats: dict[str, Any] | None, error: str | None = None) -> ApiUsage:
    """Sum the emulator's counters: Retailer API calls (not /token, not control calls) and 429s."""
    usage = ApiUsage(error=error)
    if not stats:
        return usage
    requests_by_endpoint: dict[str, dict[str, int]] = {
        str(k): {str(s): int(n) for s, n in v.items()} for k, v in stats.get("requests", {}).items()
    }
    usage.by_endpoint = requests_by_endpoint
    for endpoint, statuses in requests_by_endpoint.items():
        if "/_emulator" in endpoint:
            continue
        if "/retailer/" in endpoint:
            usage.api_calls += sum(statuses.values())
        usage.throttled += statuses.get("429", 0)
    usage.token_requests = sum(int(n) for n in stats.get("token_requests", {}).values())
    if not usage.throttled:
        usage.throttled = sum(int(n) for n in stats.get("throttled", {}).values())
    return usage


def format_runs(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per DAG with its state counts, then one line per run."""
    lines = []
    for dag_id, dag_runs in runs.items():
        counts = Counter(run["state"] for run in dag_runs)
        lines.append(f"  {dag_id}: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no runs"))
        for run in sorted(dag_runs, key=lambda r: r.get("data_interval_start") or ""):
            lines.append(
                f"    {run['state']:<8} {run.get('run_type', ''):<9} "
                f"[{_short(run.get('data_interval_start'))} .. {_short(run.get('data_interval_end'))})  "
                f"{run['dag_run_id']}"
            )
    return lines


def _short(value: str | None) -> str:
    return value.replace("T", " ")[:16] if value else "?"


def format_summary(
    runs: dict[str, list[dict[str, Any]]],
    warehouse: WarehouseSummary,
    usage: ApiUsage,
    timings: dict[str, float],
    python: str,
) -> str:
    """The whole printed summary."""
    lines = ["", "=" * 78, "bolsync demo summary", "=" * 78, "DAG runs:", *format_runs(runs), ""]
    lines += _warehouse_lines(warehouse)
    lines += _usage_lines(usage, warehouse)
    lines += ["", "Timings:"]
    lines += [f"  {name:<28} {seconds:7.1f} s" for name, seconds in timings.items()]
    lines += [
        "",
        f"Warehouse file: {warehouse.path}",
        "Query it (read-only) with:",
        f"  {python} -c \"import duckdb; print(duckdb.connect('{warehouse.path}', read_only=True)"
        ".sql('SELECT retailer_id, count(*) FROM bol.orders GROUP BY 1'))\"",
        "=" * 78,
    ]
    return "\n".join(lines)


def _warehouse_lines(warehouse: WarehouseSummary) -> list[str]:
    lines = ["Warehouse rows:"]
    if warehouse.error:
        lines.append(f"  (!) {warehouse.error}")
    for table, n in warehouse.table_rows.items():
        lines.append(f"  {table:<18} {n:>7}")
    for retailer, orders, items in warehouse.per_retailer:
        lines.append(f"  retailer {retailer}: {orders} orders, {items} order items")
    lines.append(f"  orders first synced by this demo: {warehouse.new_orders}")
    if warehouse.sync_run_statuses:
        lines.append(
            "  this demo's task tries in bol.sync_runs: "
            + ", ".join(f"{k} {v}" for k, v in warehouse.sync_run_statuses.items())
        )
    return lines


def _usage_lines(usage: ApiUsage, warehouse: WarehouseSummary) -> list[str]:
    runs = warehouse.sync_runs
    lines = ["", "bol Retailer API usage (this demo):"]
    if usage.error:
        lines.append(f"  (!) emulator stats unavailable: {usage.error}")
    else:
        lines.append(
            f"  emulator:        {usage.api_calls} API calls, {usage.token_requests} token requests, "
            f"{usage.throttled} answered 429"
        )
        for endpoint, statuses in sorted(usage.by_endpoint.items()):
            if "/_emulator" not in endpoint:
                lines.append(f"    {endpoint}: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    if runs:
        lines.append(
            f"  bol.sync_runs:   {int(runs['api_calls'])} API calls, "
            f"{int(runs['token_requests'])} token requests, "
            f"{int(runs['throttled'])} throttled, {int(runs['retries'])} retries, "
            f"{runs['rate_wait_seconds']:.1f} s waiting for the rate budget "
            f"({int(runs['task_tries'])} task tries)"
        )
    orders = warehouse.orders_in_windows
    calls = usage.api_calls if not usage.error else int(runs.get("api_calls", 0))
    per_order = f"{calls / orders:.2f}" if orders else "n/a (no orders loaded)"
    lines.append(f"  API calls per order: {per_order} ({calls} calls / {orders} distinct orders in the synced windows)")
    return lines


def task_log_errors(
    log_root: Path, dag_id: str, run_id: str, task_id: str, map_index: int, limit: int = 6
) -> list[str]:
    """Error lines of the newest attempt's log file of one task instance (Airflow 3 JSON-lines logs)."""
    folder = log_root / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    if map_index >= 0:
        folder = folder / f"map_index={map_index}"
    attempts = sorted(folder.glob("attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
    if not attempts:
        return [f"(no log file under {folder})"]
    lines = [f"log: {attempts[-1]}"]
    for raw in attempts[-1].read_text(encoding="utf-8", errors="replace").splitlines():
        message = _error_message(raw)
        if message:
            lines.append(message)
    return lines[: limit + 1]


def _error_message(raw: str) -> str | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return raw.strip() if "ERROR" in raw else None
    if not isinstance(record, dict) or str(record.get("level", "")).lower() not in ("error", "critical"):
        return None
    message = str(record.get("event", ""))
    for detail in record.get("error_detail") or []:
        if isinstance(detail, dict):
            message += f" | {detail.get('exc_type')}: {str(detail.get('exc_value'))[:300]}"
    return message[:600]
