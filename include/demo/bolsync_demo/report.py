"""The demo's closing summary: DAG run states, warehouse rows (every stream's tables) and API usage."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from bolsync.streams.registry import STREAMS
from bolsync_demo.api import emulator_json
from bolsync_demo.streams import RATE_SCALE

#: Every stream's tables (the registry's order), then the run audit.
#: What the demo's rate limits are, for the summary.
LIMITS = (
    f"bol's per-endpoint limits x{RATE_SCALE:g} (emulator and connections; bol's own in `make bench`), "
    "5 requests a second per credential"
)
TABLES = (*(table.name for spec in STREAMS.values() for table in spec.tables), "bol.sync_runs")
#: Row changes this demo's task tries recorded in bol.sync_runs (summed over its successful tries).
CHANGE_COLUMNS = (
    "orders_inserted",
    "orders_updated",
    "items_inserted",
    "items_updated",
    "offers_inserted",
    "offers_updated",
    "offers_deleted",
)
#: Offer columns compared with the emulator's ground truth: warehouse column -> ground-truth field.
OFFER_TRUTH_COLUMNS = {
    "ean": "ean",
    "unit_price": "price",
    "stock_amount": "stock_amount",
    "on_hold_by_retailer": "on_hold",
    "fulfilment_type": "fulfilment_method",
    "mutation_ms": "last_modified_at",
}


@dataclass(frozen=True)
class OfferCount:
    """One retailer's offers in bol.offers and its newest day in bol.offer_snapshots."""

    retailer_id: str
    offers: int
    live: int
    deleted: int
    snapshot_date: str | None
    snapshot_rows: int


@dataclass(frozen=True)
class OfferCheck:
    """One retailer's live offers in the warehouse against the emulator's ground truth."""

    retailer_id: str
    expected: int
    missing: int
    unexpected: int
    differing: int

    @property
    def ok(self) -> bool:
        return self.expected > 0 and not (self.missing or self.unexpected or self.differing)


@dataclass
class WarehouseSummary:
    """What the warehouse file holds, and what this demo's task tries recorded in bol.sync_runs."""

    path: Path
    error: str | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    per_retailer: list[tuple[str, int, int]] = field(default_factory=list)
    offers_per_retailer: list[OfferCount] = field(default_factory=list)
    offer_checks: list[OfferCheck] = field(default_factory=list)
    sync_runs: dict[str, float] = field(default_factory=dict)
    sync_run_statuses: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    orders_in_windows: int = 0
    new_orders: int = 0

    @property
    def orders(self) -> int:
        """Rows in bol.orders."""
        return self.table_rows.get("bol.orders", 0)

    @property
    def live_offers(self) -> int:
        """Offers in bol.offers not flagged deleted."""
        return sum(count.live for count in self.offers_per_retailer)


@dataclass
class ApiUsage:
    """Request counts from the emulator's ``/_emulator/stats``."""

    api_calls: int = 0
    order_calls: int = 0
    offer_calls: int = 0
    token_requests: int = 0
    throttled: int = 0
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None


def offer_truth(emulator_url: str) -> dict[str, list[dict[str, Any]]]:
    """The emulator's current offers per retailer id (``/_emulator/accounts/{client_id}/offers``)."""
    accounts = emulator_json(emulator_url, "/_emulator/accounts")
    return {
        str(a["retailer_id"]): list(emulator_json(emulator_url, f"/_emulator/accounts/{a['client_id']}/offers"))
        for a in accounts
    }


def read_warehouse(
    path: Path, since: datetime, truth: dict[str, list[dict[str, Any]]] | None = None, attempts: int = 10
) -> WarehouseSummary:
    """Open the DuckDB file read-only (retrying while a writer still holds it) and summarise it.

    With ``truth`` (see :func:`offer_truth`) each retailer's live offers are compared with it.
    """
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
            if truth is not None and "bol.offers" in _tables(conn):
                summary.offer_checks = [check_offers(conn, r, rows) for r, rows in sorted(truth.items())]
        except duckdb.Error as error:
            summary.error = f"could not read it: {error}"
        finally:
            conn.close()
        break
    return summary


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        f"{schema}.{name}"
        for schema, name in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    }


def _fill(conn: duckdb.DuckDBPyConnection, summary: WarehouseSummary, since: datetime) -> None:
    existing = _tables(conn)
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
    if "bol.offers" in existing and "bol.offer_snapshots" in existing:
        summary.offers_per_retailer = _offer_counts(conn)
    if "bol.sync_runs" in existing:
        _fill_sync_runs(conn, summary, since)


def _offer_counts(conn: duckdb.DuckDBPyConnection) -> list[OfferCount]:
    rows = conn.execute(
        "WITH o AS (SELECT retailer_id, count(*) AS n, count(*) FILTER (WHERE NOT deleted) AS live "
        "  FROM bol.offers GROUP BY 1), "
        "s AS (SELECT retailer_id, snapshot_date, count(*) AS n, "
        "  row_number() OVER (PARTITION BY retailer_id ORDER BY snapshot_date DESC) AS newest "
        "  FROM bol.offer_snapshots GROUP BY 1, 2) "
        "SELECT o.retailer_id, o.n, o.live, s.snapshot_date, coalesce(s.n, 0) "
        "FROM o LEFT JOIN s ON s.retailer_id = o.retailer_id AND s.newest = 1 ORDER BY 1"
    ).fetchall()
    return [
        OfferCount(str(r), int(n), int(live), int(n) - int(live), str(day) if day else None, int(snaps))
        for r, n, live, day, snaps in rows
    ]


def check_offers(conn: duckdb.DuckDBPyConnection, retailer_id: str, truth: list[dict[str, Any]]) -> OfferCheck:
    """Compare a retailer's live offers in bol.offers with the emulator's ground-truth rows."""
    columns = ", ".join(c if c != "mutation_ms" else "epoch_ms(mutation_date_time)" for c in OFFER_TRUTH_COLUMNS)
    stored = {
        str(row[0]): _comparable(row[1:])
        for row in conn.execute(
            f"SELECT offer_id, {columns} FROM bol.offers WHERE retailer_id = ? AND NOT deleted", [retailer_id]
        ).fetchall()
    }
    expected = {
        str(row["offer_id"]): _comparable(
            [
                round(datetime.fromisoformat(row[field]).timestamp() * 1000) if column == "mutation_ms" else row[field]
                for column, field in OFFER_TRUTH_COLUMNS.items()
            ]
        )
        for row in truth
    }
    both = stored.keys() & expected.keys()
    return OfferCheck(
        retailer_id,
        expected=len(expected),
        missing=len(expected.keys() - stored.keys()),
        unexpected=len(stored.keys() - expected.keys()),
        differing=sum(stored[k] != expected[k] for k in both),
    )


def _comparable(values: Any) -> tuple[Any, ...]:
    """Prices as 2-decimal strings, so DECIMAL(12, 2) and the truth's float compare equal."""
    return tuple(f"{Decimal(str(v)):.2f}" if isinstance(v, float | Decimal) else v for v in values)


def _fill_sync_runs(conn: duckdb.DuckDBPyConnection, summary: WarehouseSummary, since: datetime) -> None:
    row = conn.execute(
        "SELECT count(*), coalesce(sum(api_calls), 0), coalesce(sum(token_requests), 0), "
        "coalesce(sum(throttled), 0), coalesce(sum(retries), 0), coalesce(sum(rate_wait_seconds), 0), "
        "coalesce(sum(order_details_fetched), 0), "
        "coalesce(sum(api_calls) FILTER (WHERE dag_id LIKE 'bol_offers%'), 0) "
        "FROM bol.sync_runs WHERE started_at >= ?",
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
        "offer_api_calls",
    )
    summary.sync_runs = {k: float(v or 0) for k, v in zip(keys, row or (), strict=False)}
    summary.sync_run_statuses = {
        f"{dag} {task.rsplit('.', 1)[-1]}/{status}": int(n)
        for dag, task, status, n in conn.execute(
            "SELECT dag_id, task_id, status, count(*) FROM bol.sync_runs WHERE started_at >= ? "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            [since],
        ).fetchall()
    }
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in CHANGE_COLUMNS)
    changes = conn.execute(
        f"SELECT {sums} FROM bol.sync_runs WHERE started_at >= ? AND status = 'success'", [since]
    ).fetchone()
    summary.changes = {c: int(v or 0) for c, v in zip(CHANGE_COLUMNS, changes or (), strict=False)}
    if "bol.order_items" in _tables(conn):
        summary.orders_in_windows = _scalar(
            conn,
            "WITH w AS (SELECT DISTINCT retailer_id, window_start, window_end FROM bol.sync_runs "
            "  WHERE started_at >= ? AND status = 'success' AND task_id LIKE '%load' "
            "  AND dag_id LIKE 'bol_orders%') "
            "SELECT count(DISTINCT (i.retailer_id, i.order_id)) FROM bol.order_items i JOIN w "
            "  ON i.retailer_id = w.retailer_id AND i.latest_changed_at >= w.window_start "
            "  AND i.latest_changed_at < w.window_end",
            [since],
        )


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = conn.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def is_offer_endpoint(endpoint: str) -> bool:
    """The offer export's endpoints: request, process status (polled while bol prepares it), download;
    and the v11 offer list."""
    return "/retailer/offers" in endpoint or "/shared/process-status" in endpoint


def api_usage(stats: dict[str, Any] | None, error: str | None = None) -> ApiUsage:
    """Sum the emulator's counters: Retailer API calls (not /token, not control calls), split into
    orders and offers, and 429s."""
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
        if "/retailer/" in endpoint or "/shared/" in endpoint:
            calls = sum(statuses.values())
            usage.api_calls += calls
            if is_offer_endpoint(endpoint):
                usage.offer_calls += calls
            elif "/retailer/orders" in endpoint:
                usage.order_calls += calls
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
        lines.append(f"  {table:<32} {n:>7}")
    for retailer, orders, items in warehouse.per_retailer:
        lines.append(f"  retailer {retailer}: {orders} orders, {items} order items")
    lines.append(f"  orders first synced by this demo: {warehouse.new_orders}")
    for o in warehouse.offers_per_retailer:
        snapshot = f"snapshot {o.snapshot_date}: {o.snapshot_rows} rows" if o.snapshot_date else "no snapshot"
        lines.append(f"  retailer {o.retailer_id}: {o.offers} offers ({o.live} live, {o.deleted} deleted), {snapshot}")
    lines += _truth_lines(warehouse.offer_checks)
    if warehouse.changes:
        c = warehouse.changes
        lines.append(
            f"  changed by this demo: orders +{c['orders_inserted']} new / {c['orders_updated']} updated, "
            f"order items +{c['items_inserted']} / {c['items_updated']}, offers +{c['offers_inserted']} / "
            f"{c['offers_updated']} / {c['offers_deleted']} flagged deleted"
        )
    statuses: dict[str, list[str]] = {}
    for key, n in warehouse.sync_run_statuses.items():
        dag_id, what = key.split(" ", 1)
        statuses.setdefault(dag_id, []).append(f"{what} {n}")
    if statuses:
        lines.append("  this demo's task tries in bol.sync_runs:")
        lines += [f"    {dag_id}: {', '.join(parts)}" for dag_id, parts in statuses.items()]
    return lines


def _truth_lines(checks: list[OfferCheck]) -> list[str]:
    if not checks:
        return ["  offers vs the emulator's ground truth: not compared (ground truth unavailable)"]
    return [
        f"  offers vs the emulator's ground truth, retailer {c.retailer_id}: "
        + (f"all {c.expected} match" if c.ok else "MISMATCH")
        + (f" ({c.missing} missing, {c.unexpected} unexpected, {c.differing} differing)" if not c.ok else "")
        for c in checks
    ]


def _usage_lines(usage: ApiUsage, warehouse: WarehouseSummary) -> list[str]:
    runs = warehouse.sync_runs
    lines = ["", "bol Retailer API usage (this demo):", f"  limits:          {LIMITS}"]
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
    order_calls_audited = int(runs.get("api_calls", 0) - runs.get("offer_api_calls", 0))
    calls = order_calls_audited if usage.error else usage.order_calls
    per_order = f"{calls / orders:.2f}" if orders else "n/a (no orders loaded)"
    lines.append(f"  API calls per order: {per_order} ({calls} calls / {orders} distinct orders in the synced windows)")
    lines.append(_offer_usage_line(usage, warehouse))
    return lines


def _offer_usage_line(usage: ApiUsage, warehouse: WarehouseSummary) -> str:
    """The offer export's API calls: requests, process-status polls and downloads (polls run in the triggerer)."""
    offers = warehouse.live_offers
    if usage.error:
        calls = int(warehouse.sync_runs.get("offer_api_calls", 0))
        detail = "audited in bol.sync_runs, status polls not included"
    else:
        calls = usage.offer_calls
        count = {
            what: sum(n for e, st in usage.by_endpoint.items() if e.startswith(prefix) for n in st.values())
            for what, prefix in (
                ("requests", "POST /retailer/offers/export"),
                ("status polls", "GET /shared/process-status"),
                ("downloads", "GET /retailer/offers/export/"),
            )
        }
        detail = ", ".join(f"{n} {what}" for what, n in count.items())
    per_offer = f"{calls / offers:.3f} per live offer" if offers else "no live offers loaded"
    return f"  offer export API calls: {calls} ({detail}); {per_offer}"


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
