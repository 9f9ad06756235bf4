"""The page never makes a load wait: while a load holds the DuckDB file, it answers from its last summary."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.ui.snapshot import cache_path, read_snapshot
from bolsync.warehouse.connection import as_target, connect_warehouse

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)

HOLDER = """
import sys, time
from pathlib import Path
from bolsync.warehouse.connection import connect_warehouse
with connect_warehouse(Path(sys.argv[1])) as conn:
    conn.execute("INSERT INTO bol.sync_coverage (stream, conn_id, window_start, window_end, dag_id, run_id, synced_at) "
                 "VALUES ('orders', 'bol_late', now(), now() + INTERVAL 1 HOUR, 'd', 'r', now())")
    print("holding", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def load_holding(database: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the warehouse open, as a load has it, until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        for line in holder.stdout:  # Airflow may log to stdout first
            if line.strip() == "holding":
                break
        else:
            raise AssertionError("the holder ended before it held the warehouse")
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0


def accounts(snapshot) -> list[str]:
    return [a["conn_id"] for a in snapshot.summary["accounts"]]


def test_while_a_load_holds_the_file_the_page_answers_at_once_from_its_last_summary_and_its_age(
    tmp_path: Path,
) -> None:
    database = tmp_path / "warehouse.duckdb"
    with connect_warehouse(database) as conn:
        conn.execute(
            "INSERT INTO bol.sync_runs (dag_id, run_id, task_id, map_index, try_number, conn_id, status, started_at, "
            "finished_at) VALUES ('d', 'r', 't', 0, 1, 'bol_shop', 'success', ?, ?)",
            [NOW, NOW],
        )
    target = as_target(database)

    first = read_snapshot(target, NOW)
    assert first.stale_because is None
    assert first.age(NOW) == timedelta(0)
    assert accounts(first) == ["bol_shop"]
    assert cache_path(database).exists()

    later = NOW + timedelta(minutes=5)
    with load_holding(database):
        started = time.monotonic()
        busy = read_snapshot(target, later)
        waited = time.monotonic() - started
    assert waited < 1.0
    assert busy.stale_because == "a load holds the warehouse"
    assert busy.age(later) == timedelta(minutes=5)
    assert accounts(busy) == ["bol_shop"]

    after = read_snapshot(target, later + timedelta(seconds=1))
    assert after.stale_because is None
    assert accounts(after) == ["bol_late", "bol_shop"]


def test_a_summary_younger_than_half_a_minute_is_shown_again_without_opening_the_file(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with connect_warehouse(database):
        pass
    target = as_target(database)
    read_snapshot(target, NOW)
    with load_holding(database):
        again = read_snapshot(target, NOW + timedelta(seconds=10))
    assert again.stale_because is None
    assert again.age(NOW + timedelta(seconds=10)) == timedelta(seconds=10)


def test_a_busy_file_without_an_earlier_summary_says_so(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with connect_warehouse(database):
        pass
    with load_holding(database):
        busy = read_snapshot(as_target(database), NOW)
    assert busy.summary is None
    assert busy.stale_because == "a load holds the warehouse and no earlier summary is kept yet; reload in a minute"


def test_a_load_taking_the_file_between_reads_leaves_the_rest_without_an_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolsync.runs.gaps import amsterdam_midnight
    from bolsync.runs.staging import LockTimeout
    from bolsync.ui import snapshot

    database = tmp_path / "warehouse.duckdb"
    with connect_warehouse(database) as conn:
        for day in (20, *range(22, 30)):  # the 21st is a hole a backfill fills
            start = amsterdam_midnight(date(2026, 11, day))
            conn.execute(
                "INSERT INTO bol.sync_coverage (stream, conn_id, retailer_id, window_start, window_end, dag_id, "
                "run_id, synced_at) VALUES ('orders', 'bol_shop', '1', ?, ?, 'd', 'r', ?)",
                [start, start + timedelta(days=1), NOW],
            )
    plain, reads = snapshot.short_read, []

    def one_read_then_busy(*args, **kwargs):
        reads.append(1)
        if len(reads) > 1:
            raise LockTimeout("a load holds it")
        return plain(*args, **kwargs)

    monkeypatch.setattr(snapshot, "short_read", one_read_then_busy)
    summary = snapshot.read_duckdb(database, NOW)
    (hole,) = next(s for s in summary["accounts"][0]["streams"] if s["stream"] == "orders")["holes"]
    assert hole["first_day"] == "2026-11-21"
    assert hole["estimate"] == ["Estimate: not read (a load held the warehouse); the planner command gives one."]
    monkeypatch.setattr(snapshot, "short_read", plain)
    (hole,) = next(s for s in snapshot.read_duckdb(database, NOW)["accounts"][0]["streams"] if s["stream"] == "orders")[
        "holes"
    ]
    assert any("python -m bolsync.planner --account bol_shop --from 2026-11-21 --to 2026-11-21" in line
               for line in hole["estimate"])  # fmt: skip
