"""The status page after real runs: its numbers are the warehouse's and the emulator's counters for the same runs,
and the hole a lost run left shows with the backfill that fills it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.runs.gaps import amsterdam_midnight
from bolsync.runs.windows import AMSTERDAM
from bolsync.streams.registry import STREAMS
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection

pytestmark = pytest.mark.integration

ACCOUNT = "page_shop"
SHOP = AccountConfig("page-client", "page-secret", "6100001")


def daily_run_for(day: date) -> datetime:
    """A logical date whose inferred data interval is the Amsterdam day ``day``."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


@pytest.fixture(scope="module")
def synced(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Three daily runs (the day between the first two never ran), with 429 bursts bol's throttling would send."""
    saved = dict(os.environ)
    handle = start_emulator(EmulatorConfig(seed=5, accounts=[SHOP], orders_per_day=8, history_days=6, rate_scale=20.0))
    bol_connection(
        ACCOUNT,
        handle.base_url,
        SHOP.client_id,
        SHOP.client_secret,
        rate_limit_per_second=200,
        endpoint_rate_limits={"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
    )
    warehouse = tmp_path_factory.mktemp("page") / "warehouse.duckdb"
    warehouse_connection(warehouse)
    os.environ["AIRFLOW_VAR_BOLSYNC_ACCOUNTS"] = json.dumps([ACCOUNT])
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin"
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    ran = [today - timedelta(days=4), today - timedelta(days=2), today - timedelta(days=1)]
    fault = {"kind": "burst_429", "client_id": SHOP.client_id, "path_prefix": "/retailer", "count": 2, "seconds": 1}
    requests.post(f"{handle.base_url}/_emulator/faults", json=fault, timeout=10).raise_for_status()
    for day in ran:
        assert run_dag("bol_orders_daily", daily_run_for(day), [ACCOUNT]) == "success"
    stats = requests.get(f"{handle.base_url}/_emulator/stats", timeout=10).json()
    try:
        yield {"warehouse": warehouse, "stats": stats, "hole": today - timedelta(days=3)}
    finally:
        handle.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def client(synced: dict) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from airflow.api_fastapi.app import create_app, get_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    purge_cached_app()
    app = create_app()
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    yield TestClient(app), {"Authorization": f"Bearer {token}"}
    purge_cached_app()


def test_the_page_counts_what_the_emulator_answered_and_the_warehouse_recorded(synced: dict, client) -> None:
    http, auth = client
    data = http.get("/bolsync/summary.json", headers=auth).json()
    (account,) = data["summary"]["accounts"]
    shown = {key: sum(m[key] for m in account["metrics"]) for key in ("api_calls", "throttled", "token_requests")}

    stats = synced["stats"]
    api = {endpoint: counts for endpoint, counts in stats["requests"].items() if " /retailer/" in endpoint}
    assert shown["api_calls"] == sum(sum(counts.values()) for counts in api.values()) > 0
    assert shown["throttled"] == sum(counts.get("429", 0) for counts in api.values()) == 2
    assert shown["token_requests"] == sum(stats["token_requests"].values()) == 1

    (recorded,) = query(
        synced["warehouse"],
        "SELECT sum(api_calls), sum(throttled), sum(token_requests) FROM bol.sync_runs WHERE conn_id = ?",
        [ACCOUNT],
    )
    assert tuple(int(v) for v in recorded) == (shown["api_calls"], shown["throttled"], shown["token_requests"])
    assert len(account["runs"]) == 9  # check_auth, extract and load of each of the three runs
    assert {run["task_id"] for run in account["runs"]} == {
        f"sync_account.{t}" for t in ("check_auth", "extract", "load")
    }
    assert {run["status"] for run in account["runs"]} == {"success"}


def test_the_lost_day_is_a_hole_with_its_backfill_and_the_synced_days_are_green(synced: dict, client) -> None:
    http, auth = client
    data = http.get("/bolsync/summary.json", headers=auth).json()
    (account,) = data["summary"]["accounts"]
    orders = next(s for s in account["streams"] if s["stream"] == "orders")
    states = dict(zip(data["summary"]["days"], orders["states"], strict=True))
    hole = synced["hole"]
    assert states[hole.isoformat()] == "hole"
    assert states[(hole - timedelta(days=1)).isoformat()] == "synced"
    assert states[(hole + timedelta(days=1)).isoformat()] == "synced"
    (entry,) = orders["holes"]
    assert (entry["first_day"], entry["last_day"]) == (hole.isoformat(), hole.isoformat())
    assert f"--from-date {amsterdam_midnight(hole).isoformat()}" in entry["command"]
    page = http.get("/bolsync/", headers=auth).text
    assert entry["command"].replace('"', "&quot;").replace("'", "&#x27;") in page


def test_the_warehouse_file_is_free_again_after_the_page_read_it(synced: dict, client) -> None:
    from bolsync.warehouse.connection import connect_warehouse

    http, auth = client
    assert http.get("/bolsync/", headers=auth).status_code == 200
    with connect_warehouse(Path(synced["warehouse"]), lock_timeout=timedelta(seconds=1)) as conn:
        assert conn.scalar("SELECT count(*) FROM bol.sync_runs") == 9


class NoteApi:
    """A stand-in of the API server's token and DAG run endpoints: the notes written, by run path."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        notes: dict[str, str] = {}
        self.notes = notes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                return dict(json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}"))

            def do_POST(self) -> None:
                self._body()
                self._reply(201, {"access_token": "jwt"})

            def do_GET(self) -> None:
                self._reply(200, {"note": notes.get(self.path.split("?")[0])})

            def do_PATCH(self) -> None:
                notes[self.path.split("?")[0]] = self._body()["note"]
                self._reply(200, {"note": notes[self.path.split("?")[0]]})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_the_coverage_check_writes_its_holes_into_its_run_note(synced: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    api = NoteApi()
    connection = {"conn_type": "http", "host": api.url, "login": "notes", "password": "s3cret"}
    monkeypatch.setenv("AIRFLOW_CONN_BOLSYNC_AIRFLOW_API", json.dumps(connection))
    try:
        assert run_dag("bol_coverage_check", datetime.now(UTC), [ACCOUNT]) == "success"
    finally:
        api.close()
    (note,) = [note for path, note in api.notes.items() if "/dags/bol_coverage_check/dagRuns/" in path]
    assert note.startswith(f"Coverage check: 1 open hole(s) in 1 of {len(STREAMS)} account streams ")
    assert f"({ACCOUNT}/orders: 1); 1 newly alerted." in note
