"""Unit tests for the demo driver's pure parts and its process handling (no Airflow started)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from bolsync.demo import DemoPaths, Stack, airflow_env, make_plan, retailer_connection, write_admin_password
from bolsync.demo_procs import (
    TOKEN_VARIABLE,
    free_port,
    is_alive,
    kill_leftovers,
    port_is_free,
    processes_with_token,
    start_process,
    stop_group,
)
from bolsync.demo_report import api_usage, format_summary, read_warehouse, task_log_errors


def test_plan_covers_last_three_amsterdam_days_and_previous_utc_hour() -> None:
    plan = make_plan(datetime(2026, 3, 30, 0, 30, tzinfo=UTC))  # 02:30 in Amsterdam, the day after DST starts
    assert plan.backfill_from.isoformat() == "2026-03-27T00:00:00+01:00"
    assert plan.backfill_to.isoformat() == "2026-03-29T00:00:00+01:00"
    assert (plan.hourly_start.isoformat(), plan.hourly_end.isoformat()) == (
        "2026-03-29T23:00:00+00:00",
        "2026-03-30T00:00:00+00:00",
    )


def test_retailer_connection_points_at_the_emulator() -> None:
    conn = json.loads(retailer_connection("bol_retailer_shop_b", "http://127.0.0.1:5555"))
    assert conn == {
        "conn_type": "bol_retailer",
        "login": "demo-client-b",
        "password": "demo-secret-b",
        "extra": {"api_url": "http://127.0.0.1:5555", "login_url": "http://127.0.0.1:5555/token"},
    }


def test_airflow_env(tmp_path: Path) -> None:
    stack = Stack(DemoPaths(tmp_path), emulator_port=4000, api_port=8081)
    env = airflow_env(stack)
    assert env["AIRFLOW_HOME"] == str(tmp_path / ".airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert env["AIRFLOW__API__PORT"] == "8081"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"
    assert json.loads(env["AIRFLOW_VAR_BOLSYNC_ACCOUNTS"]) == ["bol_retailer_default", "bol_retailer_shop_b"]
    assert json.loads(env["AIRFLOW_CONN_BOL_WAREHOUSE"])["host"] == str(tmp_path / "data" / "warehouse.duckdb")
    assert json.loads(env["AIRFLOW_CONN_BOL_RETAILER_DEFAULT"])["extra"]["api_url"] == "http://127.0.0.1:4000"
    assert env["PYTHONPATH"].split(":")[0] == str(tmp_path / "include")
    assert env[TOKEN_VARIABLE] == stack.token
    # the Fernet key is generated once and then reused
    assert airflow_env(stack)["AIRFLOW__CORE__FERNET_KEY"] == env["AIRFLOW__CORE__FERNET_KEY"]


def test_admin_password_file_keeps_other_users(tmp_path: Path) -> None:
    paths = DemoPaths(tmp_path)
    paths.airflow_home.mkdir()
    password_file = paths.airflow_home / "simple_auth_manager_passwords.json.generated"
    password_file.write_text(json.dumps({"admin": "generated", "viewer": "v"}))
    write_admin_password(paths)
    assert json.loads(password_file.read_text()) == {"admin": "admin", "viewer": "v"}


def test_api_usage_sums_retailer_calls_tokens_and_429s() -> None:
    stats = {
        "token_requests": {"a": 2, "b": 1},
        "requests": {
            "GET /retailer/orders": {"200": 10, "429": 2},
            "GET /retailer/orders/{order-id}": {"200": 30},
            "POST /token": {"200": 3},
            "GET /_emulator/health": {"200": 5},
        },
        "throttled": {"a": 2},
    }
    usage = api_usage(stats)
    assert (usage.api_calls, usage.token_requests, usage.throttled) == (42, 3, 2)
    assert api_usage(None, "connection refused").error == "connection refused"


def test_read_warehouse_counts_rows_and_orders_in_windows(tmp_path: Path) -> None:
    from bolsync.warehouse.migrations import migrate

    path = tmp_path / "w.duckdb"
    since = datetime(2026, 1, 1, tzinfo=UTC)
    with duckdb.connect(str(path)) as conn:
        migrate(conn)
        conn.execute("INSERT INTO bol.orders VALUES ('1', 'o1', NULL, NULL, NULL, 1, now())")
        conn.execute(
            "INSERT INTO bol.order_items (retailer_id, order_id, order_item_id, latest_changed_at, first_synced_at) "
            "VALUES ('1', 'o1', 'i1', TIMESTAMPTZ '2026-01-02 10:00+00', now())"
        )
        conn.execute(
            "INSERT INTO bol.sync_runs (dag_id, run_id, task_id, map_index, try_number, conn_id, retailer_id, "
            "window_start, window_end, api_calls, status, started_at, finished_at) VALUES "
            "('d', 'r', 'load', 0, 1, 'c', '1', TIMESTAMPTZ '2026-01-02 00:00+00', "
            "TIMESTAMPTZ '2026-01-03 00:00+00', 0, 'success', now(), now())"
        )
    summary = read_warehouse(path, since)
    assert summary.error is None
    assert summary.table_rows == {"bol.orders": 1, "bol.order_items": 1, "bol.sync_runs": 1}
    assert summary.per_retailer == [("1", 1, 1)]
    assert summary.orders_in_windows == 1
    text = format_summary({"d": []}, summary, api_usage({"requests": {"GET /retailer/orders": {"200": 3}}}), {}, "py")
    assert "API calls per order: 3.00" in text


def test_read_warehouse_reports_a_missing_file(tmp_path: Path) -> None:
    summary = read_warehouse(tmp_path / "none.duckdb", datetime.now(UTC))
    assert summary.orders == 0
    assert "does not exist" in (summary.error or "")


def test_task_log_errors_reads_the_newest_attempt(tmp_path: Path) -> None:
    folder = tmp_path / "dag_id=d" / "run_id=r" / "task_id=t" / "map_index=1"
    folder.mkdir(parents=True)
    (folder / "attempt=1.log").write_text('{"level": "error", "event": "old"}\n')
    record = {"level": "error", "event": "Task failed", "error_detail": [{"exc_type": "KeyError", "exc_value": "x"}]}
    (folder / "attempt=2.log").write_text('{"level": "info", "event": "fine"}\n' + json.dumps(record) + "\n")
    lines = task_log_errors(tmp_path, "d", "r", "t", 1)
    assert lines[0].endswith("attempt=2.log")
    assert lines[1:] == ["Task failed | KeyError: x"]


def test_free_port_falls_back_when_the_preferred_one_is_busy() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert not port_is_free(taken)
        assert free_port(taken) != taken


@pytest.mark.timeout(60)
def test_stop_group_stops_a_process_tree_and_leftovers_are_found_by_token(tmp_path: Path) -> None:
    token = "test-token-" + str(time.time_ns())
    env = {"PATH": "/usr/bin:/bin", TOKEN_VARIABLE: token}
    # a parent that ignores SIGINT, with a child in the same group
    script = (
        "import signal, subprocess, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "subprocess.Popen(['sleep', '300']); time.sleep(300)"
    )
    proc = start_process([sys.executable, "-c", script], env, tmp_path / "p.log", tmp_path)
    deadline = time.monotonic() + 10
    while len(processes_with_token(token)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(processes_with_token(token)) == 2
    stop_group(proc.pid, "test", grace=1, child=proc, say=lambda _msg: None)
    assert not is_alive(proc.pid)
    assert processes_with_token(token) == []
    assert kill_leftovers(token, say=lambda _msg: None) == []
