"""Benchmark: the status page's render time for 50 accounts x 100 days x every stream, on DuckDB and PostgreSQL.

Each account gets, per stream, one covered window per day over 100 days with two holes (one a backfill fills,
one lost for streams bol keeps no history of), hourly orders runs over 30 days in ``bol.sync_runs`` (720 a
account) and a few open alerts. Measured: building the summary (the warehouse reads, holes and estimates) and
rendering the HTML, best and median of ``--repeat`` runs, and the page's size; on DuckDB also the page's own
read of the file (short reads under the warehouse lock) and the longest time it held the file.

Writes ``status_page.json`` to ``--out``. Run: ``python -m tests.benchmarks.status_page --out docs/bench``
(~1 min; PostgreSQL, the test server of ``tests.support.warehouses``, is skipped with a note when it does
not answer).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from bolsync.runs.gaps import amsterdam_midnight
from bolsync.streams.registry import STREAMS
from bolsync.ui.calendar import calendar_days, today_in_amsterdam
from bolsync.ui.render import page
from bolsync.ui.snapshot import Snapshot
from bolsync.ui.summary import build_summary
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import connect_warehouse

ACCOUNTS = 50
RUN_DAYS = 30


def coverage_frame(now: datetime, accounts: int) -> pd.DataFrame:
    days = calendar_days(today_in_amsterdam(now))[:-1]
    rows = []
    for n in range(accounts):
        for stream in STREAMS:
            for index, day in enumerate(days):
                if index in (40 + n % 10, 80):
                    continue  # two holes per account and stream
                start = amsterdam_midnight(day).astimezone(UTC)
                rows.append((stream, f"shop_{n:02d}", f"{1000000 + n}", start, start + timedelta(days=1),
                             "bol_orders_daily", f"run_{index}", now, 1 if index == 60 else 0))  # fmt: skip
    columns = ["stream", "conn_id", "retailer_id", "window_start", "window_end", "dag_id", "run_id", "synced_at",
               "quarantined"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def runs_frame(now: datetime, accounts: int) -> pd.DataFrame:
    rows = []
    for n in range(accounts):
        for hour in range(RUN_DAYS * 24):
            started = now - timedelta(hours=hour)
            rows.append(("bol_orders_hourly", f"run_{hour}", "sync_account.extract", n, 1, f"shop_{n:02d}", "orders",
                         40 + hour % 7, hour % 50 == 0, 1 if hour % 24 == 0 else 0, 0.5, "success", started,
                         started + timedelta(minutes=1)))  # fmt: skip
    columns = ["dag_id", "run_id", "task_id", "map_index", "try_number", "conn_id", "stream", "api_calls",
               "throttled", "token_requests", "rate_wait_seconds", "status", "started_at", "finished_at"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    frame["throttled"] = frame["throttled"].astype(int)
    return frame


def fill(conn: Warehouse, now: datetime, accounts: int) -> None:
    for table, frame in (
        ("bol.sync_coverage", coverage_frame(now, accounts)),
        ("bol.sync_runs", runs_frame(now, accounts)),
    ):
        columns = ", ".join(frame.columns)
        with conn.staged(frame, like=table) as name:
            conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {name}")
    for n in range(accounts):
        conn.execute(
            "INSERT INTO bol.alerts (alert_key, kind, conn_id, stream, subject, body, first_attempt_at, "
            "last_attempt_at, attempts, sends) VALUES (?, 'coverage', ?, 'orders', 'a hole', 'body', ?, ?, 1, 1)",
            [f"alert_{n}", f"shop_{n:02d}", now, now],
        )


def duckdb_holds(database: Path, now: datetime, repeat: int) -> dict[str, Any]:
    """The page's real read of a DuckDB file (``snapshot.read_duckdb``): total time, and the longest time it held
    the file (what a load could have to wait)."""
    from contextlib import contextmanager

    from bolsync.ui import snapshot

    held: list[float] = []
    plain = snapshot.short_read

    @contextmanager
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        with plain(*args, **kwargs) as conn:
            yield conn
        held.append(time.perf_counter() - started)

    totals, longest = [], []
    snapshot.short_read = timed  # type: ignore[assignment]
    try:
        for _ in range(repeat):
            held.clear()
            started = time.perf_counter()
            snapshot.read_duckdb(database, now)
            totals.append(time.perf_counter() - started)
            longest.append(max(held))
    finally:
        snapshot.short_read = plain  # type: ignore[assignment]
    return {
        "read_seconds_median": round(statistics.median(totals), 3),
        "longest_hold_seconds_median": round(statistics.median(longest), 3),
        "longest_hold_seconds_max": round(max(longest), 3),
        "file_reads": len(held),
    }


def measure(conn: Warehouse, now: datetime, repeat: int) -> dict[str, Any]:
    builds, renders = [], []
    html = ""
    for _ in range(repeat):
        started = time.perf_counter()
        summary = build_summary(conn, now)
        built = time.perf_counter()
        html = page(Snapshot(summary, now), now, {}, [], "")
        renders.append(time.perf_counter() - built)
        builds.append(built - started)
    return {
        "accounts": len(summary["accounts"]),
        "streams": len(STREAMS),
        "days": len(summary["days"]),
        "holes": sum(len(s["holes"]) for a in summary["accounts"] for s in a["streams"]),
        "summary_seconds_best": round(min(builds), 3),
        "summary_seconds_median": round(statistics.median(builds), 3),
        "render_seconds_best": round(min(renders), 3),
        "render_seconds_median": round(statistics.median(renders), 3),
        "html_kib": round(len(html.encode()) / 1024),
        "summary_json_kib": round(len(json.dumps(summary).encode()) / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(UTC)
    result: dict[str, Any] = {"measured_at": now.isoformat(), "machine": platform.platform(), "engines": {}}
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "warehouse.duckdb"
        with connect_warehouse(database) as conn:
            fill(conn, now, args.accounts)
            result["engines"]["duckdb"] = measure(conn, now, args.repeat)
        result["engines"]["duckdb"]["page_read"] = duckdb_holds(database, now, args.repeat)
    try:
        from tests.support.warehouses import temporary_postgres_database

        with temporary_postgres_database("bolsync_bench_page") as url, connect_warehouse(url) as conn:
            fill(conn, now, args.accounts)
            result["engines"]["postgres"] = measure(conn, now, args.repeat)
    except Exception as error:  # no server: say so in the result
        result["engines"]["postgres"] = {"skipped": f"{type(error).__name__}: {error}"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "status_page.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
