"""Unit tests for the demo driver's pure parts and its process handling (no Airflow started)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from bolsync_demo import cli as demo
from bolsync_demo.api import ApiError
from bolsync_demo.cli import (
    OFFERS,
    DemoPaths,
    Stack,
    airflow_env,
    make_plan,
    retailer_connection,
    trigger_window,
    write_admin_password,
)
from bolsync_demo.procs import (
    TOKEN_VARIABLE,
    free_port,
    is_alive,
    kill_leftovers,
    port_is_free,
    processes_with_token,
    start_process,
    stop_group,
)
from bolsync_demo.report import (
    TABLES,
    OfferCheck,
    WarehouseSummary,
    api_usage,
    format_summary,
    offer_truth,
    read_warehouse,
    task_log_errors,
)
from bolsync_demo.streams import RATE_SCALE, scaled_limits


def test_plan_covers_last_three_amsterdam_days_and_previous_utc_hour() -> None:
    plan = make_plan(datetime(2026, 3, 30, 0, 30, tzinfo=UTC))  # 02:30 in Amsterdam, the day after DST starts
    assert plan.backfill_from.isoformat() == "2026-03-27T00:00:00+01:00"
    assert plan.backfill_to.isoformat() == "2026-03-29T00:00:00+01:00"
    assert (plan.hourly_start.isoformat(), plan.hourly_end.isoformat()) == (
        "2026-03-29T23:00:00+00:00",
        "2026-03-30T00:00:00+00:00",
    )


def test_plan_runs_offers_for_yesterday_in_amsterdam() -> None:
    """The interval the nightly schedule ran last: yesterday (here the 23-hour DST day), ended < 1 day ago."""
    now = datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
    plan = make_plan(now)
    assert (plan.offers_start.isoformat(), plan.offers_end.isoformat()) == (
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    )
    assert plan.windows()[OFFERS] == (plan.offers_start, plan.offers_end)
    from bolsync.offers.extract import past_run_message

    assert past_run_message(plan.offers_end, now) is None  # the run loads offers, not "changes nothing"


class FakeClient:
    """Records the REST calls trigger_window makes; ``existing`` runs make a trigger answer 409."""

    def __init__(self, existing: list[dict[str, Any]] | None = None) -> None:
        self.existing = existing or []
        self.calls: list[tuple[str, Any]] = []

    def trigger(self, dag_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("trigger", (dag_id, body)))
        if self.existing:
            response = requests.Response()
            response.status_code = 409
            raise ApiError(response, "trigger")
        return {"dag_run_id": "manual__new"}

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        self.calls.append(("dag_runs", (dag_id, params)))
        return self.existing

    def clear_run(self, dag_id: str, run_id: str) -> None:
        self.calls.append(("clear", (dag_id, run_id)))


def test_trigger_window_gives_the_offers_run_its_data_interval() -> None:
    plan = make_plan(datetime(2026, 11, 27, 21, 0, tzinfo=UTC))
    client = FakeClient()
    trigger_window(client, plan, OFFERS)  # type: ignore[arg-type]
    assert client.calls == [
        (
            "trigger",
            (
                OFFERS,
                {
                    "logical_date": "2026-11-26T00:00:00+01:00",
                    "data_interval_start": "2026-11-26T00:00:00+01:00",
                    "data_interval_end": "2026-11-27T00:00:00+01:00",
                    "conf": {},
                },
            ),
        )
    ]
    assert (OFFERS, "manual__new") in plan.targets


def test_trigger_window_reruns_an_existing_offers_run() -> None:
    plan = make_plan(datetime(2026, 11, 27, 21, 0, tzinfo=UTC))
    client = FakeClient([{"dag_run_id": "manual__old", "state": "success"}])
    trigger_window(client, plan, OFFERS)  # type: ignore[arg-type]
    assert client.calls[-1] == ("clear", (OFFERS, "manual__old"))
    assert plan.targets == {(OFFERS, "manual__old")}


def test_airflow_must_have_a_healthy_triggerer(monkeypatch: pytest.MonkeyPatch) -> None:
    health = {part: {"status": "healthy"} for part in ("metadatabase", "scheduler", "dag_processor")}

    class Client:
        def health(self) -> dict[str, Any]:
            return health

    assert not demo._healthy(Client())  # type: ignore[arg-type]
    health["triggerer"] = {"status": "healthy"}
    assert demo._healthy(Client())  # type: ignore[arg-type]


def test_retailer_connection_points_at_the_emulator() -> None:
    conn = json.loads(retailer_connection("bol_retailer_shop_b", "http://127.0.0.1:5555"))
    assert conn == {
        "conn_type": "bol_retailer",
        "login": "demo-client-b",
        "password": "demo-secret-b",
        "extra": {
            "api_url": "http://127.0.0.1:5555",
            "login_url": "http://127.0.0.1:5555/token",
            "endpoint_rate_limits": scaled_limits(),
        },
    }
    assert conn["extra"]["endpoint_rate_limits"]["GET /retailer/returns"] == [20 * RATE_SCALE, 60.0]


def test_airflow_env(tmp_path: Path) -> None:
    stack = Stack(DemoPaths(tmp_path), emulator_port=4000, api_port=8081)
    env = airflow_env(stack)
    assert env["AIRFLOW_HOME"] == str(tmp_path / ".airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert env["AIRFLOW__API__PORT"] == "8081"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"
    assert json.loads(env["AIRFLOW_VAR_BOLSYNC_ACCOUNTS"]) == ["bol_retailer_default", "bol_retailer_shop_b"]
    assert env["AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS"] == "2"
    assert json.loads(env["AIRFLOW_CONN_BOL_WAREHOUSE"])["host"] == str(tmp_path / "data" / "warehouse.duckdb")
    assert json.loads(env["AIRFLOW_CONN_BOL_RETAILER_DEFAULT"])["extra"]["api_url"] == "http://127.0.0.1:4000"
    assert str(tmp_path / "include") not in env.get("PYTHONPATH", "")  # the product comes from its installed wheel
    note_api = json.loads(env["AIRFLOW_CONN_BOLSYNC_AIRFLOW_API"])  # the run notes of the plan and coverage check
    assert (note_api["host"], note_api["login"], note_api["password"]) == ("http://127.0.0.1:8081", "admin", "admin")
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
    assert (usage.order_calls, usage.offer_calls) == (42, 0)
    assert api_usage(None, "connection refused").error == "connection refused"


def test_api_usage_counts_the_offer_export_with_its_status_polls() -> None:
    stats = {
        "requests": {
            "GET /retailer/orders": {"200": 4},
            "POST /retailer/offers/export": {"202": 2},
            "GET /shared/process-status/{process-status-id}": {"200": 6},
            "GET /retailer/offers/export/{report-id}": {"200": 2},
        }
    }
    usage = api_usage(stats)
    assert (usage.api_calls, usage.order_calls, usage.offer_calls) == (14, 4, 10)


def test_read_warehouse_counts_rows_and_orders_in_windows(tmp_path: Path) -> None:
    from bolsync.warehouse.migrations import migrate

    path = tmp_path / "w.duckdb"
    since = datetime(2026, 1, 1, tzinfo=UTC)
    with duckdb.connect(str(path)) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO bol.orders (retailer_id, order_id, item_count, first_synced_at) VALUES ('1', 'o1', 1, now())"
        )
        conn.execute(
            "INSERT INTO bol.order_items (retailer_id, order_id, order_item_id, latest_changed_at, first_synced_at) "
            "VALUES ('1', 'o1', 'i1', TIMESTAMPTZ '2026-01-02 10:00+00', now())"
        )
        conn.execute(
            "INSERT INTO bol.sync_runs (dag_id, run_id, task_id, map_index, try_number, conn_id, retailer_id, "
            "window_start, window_end, api_calls, status, started_at, finished_at) VALUES "
            "('bol_orders_daily', 'r', 'sync_account.load', 0, 1, 'c', '1', TIMESTAMPTZ '2026-01-02 00:00+00', "
            "TIMESTAMPTZ '2026-01-03 00:00+00', 0, 'success', now(), now())"
        )
    summary = read_warehouse(path, since)
    assert summary.error is None
    assert summary.table_rows == {table: 0 for table in TABLES} | {
        "bol.orders": 1,
        "bol.order_items": 1,
        "bol.sync_runs": 1,
    }
    assert summary.per_retailer == [("1", 1, 1)]
    assert summary.orders_in_windows == 1
    text = format_summary({"d": []}, summary, api_usage({"requests": {"GET /retailer/orders": {"200": 3}}}), {}, "py")
    assert "API calls per order: 3.00" in text
    assert "limits:          bol's per-endpoint limits x10" in text


def _offer_truth(offer_id: str, price: float = 9.99, stock: int = 5) -> dict[str, Any]:
    return {
        "offer_id": offer_id,
        "ean": f"ean-{offer_id}",
        "price": price,
        "stock_amount": stock,
        "on_hold": False,
        "fulfilment_method": "FBR",
        "last_modified_at": "2026-11-20T10:00:00.125+00:00",
    }


def test_read_warehouse_counts_offers_and_compares_them_with_the_ground_truth(tmp_path: Path) -> None:
    from bolsync.warehouse.migrations import migrate

    path = tmp_path / "w.duckdb"
    since = datetime(2026, 1, 1, tzinfo=UTC)
    with duckdb.connect(str(path)) as conn:
        migrate(conn)
        for offer_id, deleted in (("a", False), ("b", False), ("c", True)):
            conn.execute(
                "INSERT INTO bol.offers (retailer_id, offer_id, ean, unit_price, stock_amount, on_hold_by_retailer, "
                "fulfilment_type, mutation_date_time, source, deleted, first_seen_at, last_seen_at) VALUES ('7', ?, "
                "?, 9.99, 5, FALSE, 'FBR', TIMESTAMPTZ '2026-11-20 10:00:00.125+00', 'export', ?, now(), now())",
                [offer_id, f"ean-{offer_id}", deleted],
            )
        for day in ("2026-11-25", "2026-11-26"):
            conn.execute(
                "INSERT INTO bol.offer_snapshots (retailer_id, offer_id, snapshot_date) "
                "SELECT '7', offer_id, CAST(? AS DATE) FROM bol.offers WHERE NOT deleted",
                [day],
            )
        # an offers load: its window must not count orders, its changes are summed
        conn.execute(
            "INSERT INTO bol.sync_runs (dag_id, run_id, task_id, map_index, try_number, conn_id, retailer_id, "
            "window_start, window_end, api_calls, offers_inserted, offers_updated, offers_deleted, status, "
            "started_at, finished_at) VALUES ('bol_offers_daily', 'r', 'sync_account.load', 0, 1, 'c', '7', "
            "TIMESTAMPTZ '2026-11-26 00:00+01', TIMESTAMPTZ '2026-11-27 00:00+01', 2, 2, 1, 1, 'success', now(), now())"
        )
        conn.execute(
            "INSERT INTO bol.orders (retailer_id, order_id, item_count, first_synced_at) VALUES ('7', 'o1', 1, now());"
            "INSERT INTO bol.order_items (retailer_id, order_id, order_item_id, latest_changed_at, first_synced_at) "
            "VALUES ('7', 'o1', 'i1', TIMESTAMPTZ '2026-11-26 10:00+00', now())"
        )
    truth = {"7": [_offer_truth("a"), _offer_truth("b")]}
    summary = read_warehouse(path, since, truth)
    assert summary.error is None
    (count,) = summary.offers_per_retailer
    assert (count.offers, count.live, count.deleted) == (3, 2, 1)
    assert (count.snapshot_date, count.snapshot_rows) == ("2026-11-26", 2)
    assert summary.live_offers == 2
    assert summary.offer_checks == [OfferCheck("7", expected=2, missing=0, unexpected=0, differing=0)]
    assert summary.offer_checks[0].ok
    assert summary.orders_in_windows == 0  # the offers run's window is not an orders window
    assert summary.changes["offers_inserted"] == 2
    assert (summary.changes["offers_updated"], summary.changes["offers_deleted"]) == (1, 1)
    assert summary.sync_run_statuses == {"bol_offers_daily load/success": 1}

    changed = {"7": [_offer_truth("a", price=10.5), _offer_truth("d")]}
    (check,) = read_warehouse(path, since, changed).offer_checks
    assert check == OfferCheck("7", expected=2, missing=1, unexpected=1, differing=1)
    assert not check.ok

    usage = api_usage(
        {
            "requests": {
                "POST /retailer/offers/export": {"202": 1},
                "GET /shared/process-status/{process-status-id}": {"200": 3},
                "GET /retailer/offers/export/{report-id}": {"200": 1},
            }
        }
    )
    text = format_summary({"bol_offers_daily": []}, summary, usage, {}, "py")
    assert "retailer 7: 3 offers (2 live, 1 deleted), snapshot 2026-11-26: 2 rows" in text
    assert "offers vs the emulator's ground truth, retailer 7: all 2 match" in text
    assert "offers +2 / 1 / 1 flagged deleted" in text
    assert "offer export API calls: 5 (1 requests, 3 status polls, 1 downloads)" in text


def test_offer_truth_reads_the_emulators_offers_per_retailer() -> None:
    from bol_emulator.config import EmulatorConfig
    from bol_emulator.server import start_emulator

    handle = start_emulator(EmulatorConfig(port=0, history_days=0))
    try:
        truth = offer_truth(handle.base_url)
    finally:
        handle.stop()
    assert sorted(truth) == ["1000001", "1000002"]
    assert all(len(rows) == 60 for rows in truth.values())
    assert {"offer_id", "price", "stock_amount", "last_modified_at"} <= set(truth["1000001"][0])


def _summary(live: int, checks: list[OfferCheck], orders: int = 5) -> WarehouseSummary:
    from bolsync_demo.report import OfferCount

    summary = WarehouseSummary(Path("w.duckdb"), table_rows={"bol.orders": orders})
    summary.offers_per_retailer = [OfferCount("7", live, live, 0, "2026-11-26", live)]
    summary.offer_checks = checks
    return summary


@pytest.mark.parametrize(
    ("offers_state", "live", "checks", "expected"),
    [
        ("success", 2, [OfferCheck("7", 2, 0, 0, 0)], 0),
        ("failed", 2, [OfferCheck("7", 2, 0, 0, 0)], 1),
        ("success", 0, [], 1),
        ("success", 2, [OfferCheck("7", 2, 0, 0, 1)], 1),
        (None, 2, [OfferCheck("7", 2, 0, 0, 0)], 1),
    ],
    ids=["ok", "offers-run-failed", "no-offers", "offers-differ", "no-offers-run"],
)
def test_exit_code_reflects_the_offers_run(
    offers_state: str | None, live: int, checks: list[OfferCheck], expected: int
) -> None:
    runs: dict[str, list[dict[str, Any]]] = {
        "bol_orders_daily": [{"dag_run_id": "b", "state": "success"}],
        "bol_orders_hourly": [{"dag_run_id": "h", "state": "success"}],
        OFFERS: [{"dag_run_id": "o", "state": offers_state}] if offers_state else [],
    }
    for dag_id in set(demo.DAGS) - set(runs):
        runs[dag_id] = [{"dag_run_id": "s", "state": "success"}]
    assert demo._exit_code(runs, True, _summary(live, checks)) == expected


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


def test_every_stream_has_a_demo_run_and_its_tables_in_the_summary() -> None:
    from bolsync.streams.registry import STREAMS

    for spec in STREAMS.values():
        assert set(spec.dags) & set(demo.DAGS), f"the demo runs no DAG of the stream {spec.name}"
        assert {table.name for table in spec.tables} <= set(TABLES)


def test_the_single_runs_take_the_last_full_interval_of_their_schedule() -> None:
    plan = make_plan(datetime(2026, 12, 8, 9, 30, tzinfo=UTC))  # a Tuesday, 10:30 in Amsterdam
    windows = {dag_id: (start.isoformat(), end.isoformat()) for dag_id, (start, end) in plan.windows().items()}
    assert windows["bol_returns_hourly"] == ("2026-12-08T08:00:00+00:00", "2026-12-08T09:00:00+00:00")
    assert windows["bol_inventory_daily"] == ("2026-12-07T01:00:00+01:00", "2026-12-08T01:00:00+01:00")
    assert windows["bol_invoices"] == ("2026-11-30T00:00:00+01:00", "2026-12-07T00:00:00+01:00")
    client = FakeClient()
    trigger_window(client, plan, "bol_invoices")  # type: ignore[arg-type]
    body = client.calls[0][1][1]
    assert body["conf"] == {"period_start": "2026-11-07", "period_end": "2026-12-07"}
    assert body["data_interval_start"] == "2026-11-30T00:00:00+01:00"
