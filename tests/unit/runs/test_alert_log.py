"""bol.alerts: every delivery attempt recorded per key, cleared by what resolves it, never blocking a task."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bolsync.runs import alert_log
from bolsync.warehouse.connection import WarehouseTarget, as_target, connect_warehouse

T0 = datetime(2026, 11, 30, 8, tzinfo=UTC)
LATER = T0 + timedelta(hours=2)
RUN = {"ti": SimpleNamespace(dag_id="bol_orders_hourly", run_id="scheduled__later", task_id="sync_account.load")}


def attempt(key: str, at: datetime, *, sent: bool = True, **about: str) -> alert_log.AlertAttempt:
    return alert_log.AlertAttempt(
        key=key,
        kind=about.pop("kind", key.split(":", 1)[0]),
        subject=f"subject of {key}",
        body="body",
        at=at,
        sent=sent,
        error=None if sent else "ConnectionRefusedError: [Errno 111] Connection refused",
        **about,
    )


@pytest.fixture(autouse=True)
def nothing_pending() -> Iterator[None]:
    alert_log._pending.clear()
    yield
    alert_log._pending.clear()


def rows(conn, columns: str = "alert_key, attempts, sends, first_sent_at, last_error, cleared_at IS NULL") -> list:
    return conn.query(f"SELECT {columns} FROM bol.alerts ORDER BY alert_key")


def queue(*attempts: alert_log.AlertAttempt) -> None:
    alert_log._pending.extend(attempts)


def test_a_failed_then_delivered_alert_is_one_row_with_both_attempts(warehouse: WarehouseTarget) -> None:
    key = "window_too_old:bol_orders_daily:2026-09-01"
    queue(attempt(key, T0, sent=False, conn_id="bol_shop", stream="orders"))
    with connect_warehouse(warehouse) as conn:
        assert alert_log.write_pending(conn) == 1
        assert rows(conn, "attempts, sends, first_sent_at, last_error IS NULL") == [(1, 0, None, False)]
        queue(attempt(key, T0 + timedelta(hours=1), retailer_id="42"))
        alert_log.write_pending(conn)
        columns = "attempts, sends, first_sent_at, last_error, conn_id, retailer_id, stream, first_attempt_at"
        (row,) = rows(conn, columns)
    assert row[:2] == (2, 1)
    assert row[2] == T0 + timedelta(hours=1)
    assert row[3] is None
    assert row[4:7] == ("bol_shop", "42", "orders")
    assert row[7] == T0
    assert alert_log._pending == []


def test_a_load_clears_auth_and_stale_alerts_of_its_account_and_failures_of_its_stream(
    warehouse: WarehouseTarget,
) -> None:
    queue(
        attempt("alert:d:r1:bol_shop", T0, kind="auth", conn_id="bol_shop", stream="offers"),
        attempt("stale:bol_shop:never", T0, kind="stale", conn_id="bol_shop"),
        attempt("alert:d:r2:bol_shop", T0, kind="sync_failed", conn_id="bol_shop", stream="orders"),
        attempt("alert:d:r3:bol_shop", T0, kind="sync_failed", conn_id="bol_shop", stream="offers"),
        attempt("alert:d:r4:other", T0, kind="auth", conn_id="other"),
        attempt("coverage:x", T0, kind="coverage", conn_id="bol_shop", stream="orders"),
        attempt("alert:d:r5:bol_shop", LATER, kind="sync_failed", conn_id="bol_shop", stream="orders"),
    )
    with connect_warehouse(warehouse) as conn:
        alert_log.write_pending(conn)
        assert alert_log.clear_after_load(conn, RUN, "bol_shop", "orders", T0 + timedelta(hours=1)) == 3
        still_open = conn.query("SELECT alert_key FROM bol.alerts WHERE cleared_at IS NULL ORDER BY 1")
        reason = conn.scalar("SELECT cleared_by FROM bol.alerts WHERE alert_key = 'stale:bol_shop:never'")
    assert [key for (key,) in still_open] == [
        "alert:d:r3:bol_shop",  # the offers stream did not load
        "alert:d:r4:other",  # another account
        "alert:d:r5:bol_shop",  # raised after the load started
        "coverage:x",  # the coverage check clears it
    ]
    assert reason == "load succeeded: bol_orders_hourly / scheduled__later"


def test_an_alert_raised_again_is_open_again(warehouse: WarehouseTarget) -> None:
    queue(attempt("quarantine:bol_shop:O1", T0))
    with connect_warehouse(warehouse) as conn:
        alert_log.write_pending(conn)
        cleared = alert_log.clear(conn, reason="quarantine empty", before=T0 + timedelta(1), key_prefix="quarantine:")
        assert cleared == 1
        assert rows(conn, "cleared_at IS NULL, cleared_by") == [(False, "quarantine empty")]
        queue(attempt("quarantine:bol_shop:O1", T0 + timedelta(days=2)))
        alert_log.write_pending(conn)
        assert rows(conn, "cleared_at IS NULL, cleared_by, attempts, sends") == [(True, None, 2, 2)]


def test_outside_a_task_nothing_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    alert_log.note(attempt("k", T0))
    assert alert_log._pending == []
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def duckdb_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WarehouseTarget:
    """A task whose warehouse is a DuckDB file."""
    target = as_target(tmp_path / "warehouse.duckdb")
    monkeypatch.setattr(alert_log, "_task_warehouse", lambda: target)
    return target


def test_a_task_records_its_alert_at_once(duckdb_task: WarehouseTarget) -> None:
    alert_log.note(attempt("k", T0))
    with connect_warehouse(duckdb_task) as conn:
        assert rows(conn, "alert_key, sends") == [("k", 1)]


def test_while_this_process_holds_the_warehouse_the_alert_waits_for_its_next_write(
    duckdb_task: WarehouseTarget,
) -> None:
    with connect_warehouse(duckdb_task) as conn:
        alert_log.note(attempt("k", T0))  # would wait for itself: queued instead
        assert [a.key for a in alert_log._pending] == ["k"]
        assert rows(conn) == []
        alert_log.write_pending_quietly(conn)
        assert rows(conn, "alert_key") == [("k",)]


def test_while_another_process_holds_the_warehouse_the_alert_is_queued_after_a_short_wait(
    duckdb_task: WarehouseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_log, "QUICK_LOCK_WAIT", timedelta(seconds=0.2))
    with connect_warehouse(duckdb_task):
        pass
    assert duckdb_task.path is not None
    lock = os.open(duckdb_task.path.with_name(duckdb_task.path.name + ".lock"), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a lock of its own, as another process's load holds it
        alert_log.note(attempt("k", T0))
    finally:
        os.close(lock)
    assert [a.key for a in alert_log._pending] == ["k"]
    alert_log.note(attempt("k2", T0))  # the next write takes both
    with connect_warehouse(duckdb_task) as conn:
        assert rows(conn, "alert_key") == [("k",), ("k2",)]


def test_a_failed_write_keeps_the_attempts_queued() -> None:
    class Broken:
        def transaction(self):
            raise OSError("disk full")

    queue(attempt("k", T0))
    with pytest.raises(OSError, match="disk full"):
        alert_log.write_pending(Broken())  # type: ignore[arg-type]
    alert_log.write_pending_quietly(Broken())  # type: ignore[arg-type]
    assert [a.key for a in alert_log._pending] == ["k"]
