"""The returns DAGs end to end: emulator over HTTP -> real Airflow task runs (``dag.test``) -> DuckDB, checked against
the emulator's ground truth (``/_emulator/accounts/{client}/returns``, ``return-items``,
``return-processing-results``). ``test_returns_sync_postgres`` runs them into PostgreSQL.

One world per module, changed between the tests in file order: the first hourly run, orders arriving after their
returns, returns registered and handled between two runs (one of them registered days ago and handled now, deep in
the handled list), reruns, a bad record, transport faults and concurrent extracts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bolsync.returns.extract import extract_returns
from bolsync.returns.load import MethodScanned, load_returns
from bolsync.returns.paging import hook_fetch
from bolsync.returns.stream import WarehouseReturns
from bolsync.runs.windows import AMSTERDAM, SyncWindow
from bolsync.warehouse.connection import WarehouseTarget, as_target, connect_warehouse
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.integration.test_faults import CONCURRENT_RUN, _copy_airflow_db, _subprocess_env
from tests.support.airflow_env import REPO, bol_connection, query, run_dag, table_rows, warehouse_connection

pytestmark = pytest.mark.integration

SHOP_A = ("bol_returns_a", AccountConfig("ret-client-a", "ret-secret-a", "7000001"))
SHOP_B = ("bol_returns_b", AccountConfig("ret-client-b", "ret-secret-b", "7000002"))
SHOPS = [SHOP_A[0], SHOP_B[0]]
CLIENTS = {SHOP_A[0]: SHOP_A[1], SHOP_B[0]: SHOP_B[1]}
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {
        "GET /retailer/orders": [400, 60],
        "GET /retailer/orders/{id}": [400, 1],
        "GET /retailer/returns": [400, 60],
        "GET /retailer/returns/{id}": [400, 1],
    },
}
TABLES = ("returns", "return_item_states", "return_processing_results", "return_scans")
V10 = {"Content-Type": "application/vnd.retailer.v10+json"}


@dataclass
class World:
    handle: EmulatorHandle
    warehouse: WarehouseTarget
    base_hour: datetime

    @property
    def url(self) -> str:
        return self.handle.base_url

    def truth(self, conn_id: str, table: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_emulator/accounts/{CLIENTS[conn_id].client_id}/{table}", timeout=10)
        response.raise_for_status()
        return response.json()

    def act(self, conn_id: str, action: str, **body: Any) -> dict[str, Any]:
        payload = {"client_id": CLIENTS[conn_id].client_id, "action": action, **body}
        response = requests.post(f"{self.url}/_emulator/world", json=payload, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **body: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=body, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()

    def requests(self, endpoint: str) -> int:
        stats = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()["requests"]
        return sum(count for status, count in stats.get(endpoint, {}).items() if status == "200")


@pytest.fixture(scope="module")
def returns_warehouse(tmp_path_factory: pytest.TempPathFactory) -> WarehouseTarget:
    """The warehouse under test (``bol_warehouse`` set to it)."""
    target = as_target(tmp_path_factory.mktemp("returns") / "warehouse.duckdb")
    warehouse_connection(target)
    return target


@pytest.fixture(scope="module")
def world(airflow_db, returns_warehouse: WarehouseTarget) -> Iterator[World]:
    handle = start_emulator(
        EmulatorConfig(seed=23, accounts=[SHOP_A[1], SHOP_B[1]], orders_per_day=40, history_days=10, rate_scale=20.0)
    )
    for conn_id, account in (SHOP_A, SHOP_B):
        bol_connection(conn_id, handle.base_url, account.client_id, account.client_secret, **FAST)
    warehouse = returns_warehouse
    # bol's clock is this machine's here (the emulator's): no margin is needed, so the handled lists read stay short.
    previous = os.environ.get("AIRFLOW__BOLSYNC__RETURNS_REGISTRATION_MARGIN_MINUTES")
    os.environ["AIRFLOW__BOLSYNC__RETURNS_REGISTRATION_MARGIN_MINUTES"] = "0"
    yield World(handle, warehouse, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    if previous is None:
        os.environ.pop("AIRFLOW__BOLSYNC__RETURNS_REGISTRATION_MARGIN_MINUTES", None)
    else:
        os.environ["AIRFLOW__BOLSYNC__RETURNS_REGISTRATION_MARGIN_MINUTES"] = previous
    handle.stop()


def _hour(world: World, offset: int = 0) -> datetime:
    """A logical date whose hourly window ends ``offset`` hours after the world's first hour (the first run's
    window ends with it; later runs take later windows: a window must end after the last scan started to be read
    at all)."""
    return world.base_hour + timedelta(hours=offset, minutes=5)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def assert_tables_equal_truth(world: World, conn_id: str, held: set[str] = frozenset()) -> None:
    """bol.returns, bol.return_items and bol.return_processing_results of the account equal the emulator's truth
    (but the returns in ``held``): every row, every column both know (detail columns where a detail was read)."""
    retailer = CLIENTS[conn_id].retailer_id
    truth = [r for r in world.truth(conn_id, "returns") if r["return_id"] not in held]
    stored = query(
        world.warehouse,
        "SELECT return_id, registered_at, fulfilment_method, handled, item_count FROM bol.returns "
        "WHERE retailer_id = ?",
        [retailer],
    )
    assert {r[0]: (_utc(r[1]), r[2], r[3], r[4]) for r in stored} == {
        t["return_id"]: (_utc(t["registered_at"]), t["fulfilment_method"], t["handled"], len(t["rma_ids"]))
        for t in truth
    }
    columns = [
        "rma_id",
        "return_id",
        "order_id",
        "ean",
        "expected_quantity",
        "main_reason",
        "detailed_reason",
        "handled",
    ]
    items = query(
        world.warehouse,
        f"SELECT {', '.join(columns)}, title, track_and_trace, transporter_name, detail_read_at FROM bol.return_items "
        "WHERE retailer_id = ?",
        [retailer],
    )
    item_truth = {t["rma_id"]: t for t in world.truth(conn_id, "return-items") if t["return_id"] not in held}
    assert {row[0]: row[: len(columns)] for row in items} == {
        rma: tuple(t[c] for c in columns) for rma, t in item_truth.items()
    }
    for row in items:
        if row[-1] is not None:  # a detail was read: its fields are bol's
            assert row[len(columns) : -1] == tuple(
                item_truth[row[0]][c] for c in ("title", "track_and_trace", "transporter_name")
            )
    results = query(
        world.warehouse,
        "SELECT rma_id, result_number, quantity, processing_result, handling_result, processed_at "
        "FROM bol.return_processing_results WHERE retailer_id = ?",
        [retailer],
    )
    expected = [t for t in world.truth(conn_id, "return-processing-results") if t["return_id"] not in held]
    assert sorted((r[0], r[2], r[3], r[4], _utc(r[5])) for r in results) == sorted(
        (t["rma_id"], t["quantity"], t["processing_result"], t["handling_result"], _utc(t["processed_at"]))
        for t in expected
    )
    numbers: dict[str, list[int]] = {}
    for row in results:
        numbers.setdefault(row[0], []).append(row[1])
    assert all(sorted(found) == list(range(1, len(found) + 1)) for found in numbers.values())


@pytest.fixture(scope="module")
def first_run(world: World) -> dict[str, int]:
    """Returns made handled in bulk (so the handled lists run over several pages), then the first hourly run."""
    made = world.act(SHOP_A[0], "register_return", count=120)
    for rma in made["rma_ids"]:
        world.act(SHOP_A[0], "handle_return", rma_id=rma)
    details = world.requests("GET /retailer/returns/{return-id}")
    assert run_dag("bol_returns_hourly", _hour(world), SHOPS) == "success"
    return {"details": world.requests("GET /retailer/returns/{return-id}") - details}


def test_the_first_run_lands_the_emulators_truth(world: World, first_run: dict[str, int]) -> None:
    for conn_id in SHOPS:
        assert_tables_equal_truth(world, conn_id)
    open_returns = sum(1 for conn_id in SHOPS for r in world.truth(conn_id, "returns") if not r["handled"])
    assert first_run["details"] == open_returns  # the handled history: no detail each
    scans = query(world.warehouse, "SELECT count(*) FROM bol.return_scans WHERE last_full_scan_started_at IS NOT NULL")
    assert scans == [(4,)]  # both methods of both accounts, read to their end
    covered = query(world.warehouse, "SELECT count(*) FROM bol.sync_coverage WHERE stream = 'returns'")
    assert covered == [(2,)]


def test_orders_synced_after_their_returns_fill_the_order_item_match(world: World, first_run: dict[str, int]) -> None:
    conn_id = SHOP_A[0]
    retailer = CLIENTS[conn_id].retailer_id
    before = query(
        world.warehouse, "SELECT DISTINCT order_match FROM bol.return_items WHERE retailer_id = ?", [retailer]
    )
    assert before == [("order_not_in_warehouse",)]  # no order synced yet
    changed = world.truth(conn_id, "return-items")
    order_items = requests.get(f"{world.url}/_emulator/accounts/{CLIENTS[conn_id].client_id}/order-items", timeout=10)
    wanted = {t["order_item_id"] for t in changed if t["order_item_id"]}
    days = sorted(
        {
            datetime.fromisoformat(t["latest_changed_at"]).astimezone(AMSTERDAM).date()
            for t in order_items.json()
            if t["order_item_id"] in wanted
        }
    )
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    for day in days:
        if day < today:
            logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
            assert run_dag("bol_orders_daily", logical, [conn_id]) == "success"
    rows = query(
        world.warehouse,
        "SELECT i.rma_id, i.order_item_id, i.order_match, o.order_id IS NOT NULL FROM bol.return_items i "
        "LEFT JOIN bol.orders o ON o.retailer_id = i.retailer_id AND o.order_id = i.order_id WHERE i.retailer_id = ?",
        [retailer],
    )
    truth = {t["rma_id"]: t["order_item_id"] for t in changed}
    synced = [row for row in rows if row[3]]
    assert len(synced) > len(rows) // 2
    assert all(row[1] == truth[row[0]] and row[2] == "matched" for row in synced)
    assert all(row[1] is None and row[2] == "order_not_in_warehouse" for row in rows if not row[3])
    assert any(truth[row[0]] is None for row in rows if not row[3])  # returns of orders older than the history


@pytest.fixture(scope="module")
def changed_run(world: World, first_run: dict[str, int]) -> dict[str, Any]:
    """Between two hourly runs: a return registered and handled, one registered (open), and the oldest open
    return of shop A (registered days ago, deep in the handled list once handled) handled now."""
    conn_id = SHOP_A[0]
    returns = world.truth(conn_id, "returns")
    method = max(("FBR", "FBB"), key=lambda m: sum(1 for r in returns if r["handled"] and r["fulfilment_method"] == m))
    late = min((r for r in returns if not r["handled"] and r["fulfilment_method"] == method),
               key=lambda r: _utc(r["registered_at"]))  # fmt: skip
    newer = [r for r in returns if r["handled"] and r["fulfilment_method"] == method
             and _utc(r["registered_at"]) > _utc(late["registered_at"])]  # fmt: skip
    assert len(newer) >= 50  # handled now, it is not on the first page of its handled list
    for rma in late["rma_ids"]:
        world.act(conn_id, "handle_return", rma_id=rma, handling_result="RETURN_DOES_NOT_MEET_CONDITIONS")
    quick = world.act(conn_id, "register_return", count=2)
    world.act(conn_id, "handle_return", rma_id=quick["rma_ids"][0])
    details = world.requests("GET /retailer/returns/{return-id}")
    assert run_dag("bol_returns_hourly", _hour(world, 1), [conn_id]) == "success"
    run_id = query(world.warehouse, "SELECT max(run_id) FROM bol.sync_runs WHERE dag_id = 'bol_returns_hourly' "
                   "AND window_end = ?", [_hour(world, 1).replace(minute=0)])[0][0]  # fmt: skip
    return {
        "late": late["return_id"],
        "new": quick["return_ids"],
        "run_id": run_id,
        "details": world.requests("GET /retailer/returns/{return-id}") - details,
    }


def test_returns_registered_and_handled_between_runs_and_a_late_handling_are_caught(
    world: World, changed_run: dict[str, Any]
) -> None:
    assert_tables_equal_truth(world, SHOP_A[0])
    late = query(world.warehouse, "SELECT handled FROM bol.returns WHERE return_id = ?", [changed_run["late"]])
    assert late == [(True,)]
    queries = query(
        world.warehouse,
        "SELECT queries FROM bol.sync_runs WHERE dag_id = 'bol_returns_hourly' AND run_id = ? "
        "AND task_id LIKE '%extract'",
        [changed_run["run_id"]],
    )
    assert "FBR handled: 1 pages (to the stop bound)" in queries[0][0]  # not down to the late return: read by id
    assert "FBB handled: 1 pages" in queries[0][0]
    assert changed_run["details"] == 3  # the late one, and the two new ones once each


def test_reruns_change_no_row(world: World, changed_run: dict[str, Any]) -> None:
    before = {name: table_rows(world.warehouse, name) for name in TABLES}
    calls = world.requests("GET /retailer/returns") + world.requests("GET /retailer/returns/{return-id}")
    assert (
        run_dag("bol_returns_hourly", _hour(world), [SHOP_A[0]]) == "success"
    )  # the first run's window: observed already
    assert world.requests("GET /retailer/returns") + world.requests("GET /retailer/returns/{return-id}") == calls
    assert run_dag("bol_returns_hourly", _hour(world, 2), SHOPS) == "success"  # a new window: read, nothing changed
    after = {name: table_rows(world.warehouse, name) for name in TABLES}
    assert {name: rows for name, rows in after.items() if name != "return_scans"} == {
        name: rows for name, rows in before.items() if name != "return_scans"
    }
    for conn_id in SHOPS:
        assert_tables_equal_truth(world, conn_id)


def _bad_detail(world: World, conn_id: str, return_id: str) -> str:
    """The detail of a just registered return, as bol could send it: a quantity beyond INTEGER, and the customer."""
    items = [t for t in world.truth(conn_id, "return-items") if t["return_id"] == return_id]
    body = {
        "returnId": return_id,
        "registrationDateTime": items[0]["registered_at"],
        "fulfilmentMethod": items[0]["fulfilment_method"],
        "returnItems": [
            {
                "rmaId": t["rma_id"],
                "orderId": t["order_id"],
                "ean": t["ean"],
                "title": t["title"],
                "expectedQuantity": 3_000_000_000,
                "returnReason": {"mainReason": t["main_reason"], "customerComments": "Graag het geld terug, bedankt!"},
                "handled": False,
                "processingResults": [],
                "customerDetails": t["customer_details"],
            }
            for t in items
        ],
    }
    return json.dumps(body)


def test_a_bad_return_is_quarantined_and_the_rest_lands(world: World, changed_run: dict[str, Any]) -> None:
    conn_id = SHOP_B[0]
    made = world.act(conn_id, "register_return", count=2)
    bad, good = made["return_ids"]
    surname = next(t for t in world.truth(conn_id, "return-items") if t["return_id"] == bad)["customer_details"]
    world.fault(
        kind="respond", client_id=CLIENTS[conn_id].client_id, path_prefix=f"/retailer/returns/{bad}", count=5,
        headers=V10, body=_bad_detail(world, conn_id, bad),
    )  # fmt: skip
    try:
        assert run_dag("bol_returns_hourly", _hour(world, 3), [conn_id]) == "success"
    finally:
        world.clear_faults()
    assert_tables_equal_truth(world, conn_id, held={bad})
    held = query(
        world.warehouse, "SELECT record_key, field, raw_json FROM bol.quarantine WHERE stream = 'returns' "
        "AND released_at IS NULL",
    )  # fmt: skip
    assert [(key, field) for key, field, _ in held] == [(bad, "returnItems[0].expectedQuantity")]
    assert surname["surname"] not in held[0][2]
    assert "Graag het geld" not in held[0][2]
    assert good in {row[0] for row in query(world.warehouse, "SELECT return_id FROM bol.returns")}
    covered = query(world.warehouse, "SELECT quarantined FROM bol.sync_coverage WHERE stream = 'returns' "
                    "AND conn_id = ? ORDER BY window_end DESC LIMIT 1", [conn_id])  # fmt: skip
    assert covered == [(1,)]
    assert run_dag("bol_returns_hourly", _hour(world, 4), [conn_id]) == "success"  # bol serves it right again
    assert_tables_equal_truth(world, conn_id)
    assert query(world.warehouse, "SELECT count(*) FROM bol.quarantine WHERE released_at IS NULL") == [(0,)]


def test_transport_faults_are_retried_and_land_the_truth(world: World, changed_run: dict[str, Any]) -> None:
    conn_id = SHOP_A[0]
    client = CLIENTS[conn_id].client_id
    made = world.act(conn_id, "register_return", count=3)
    world.act(conn_id, "handle_return", rma_id=made["rma_ids"][0])
    world.fault(kind="burst_429", client_id=client, path_prefix="/retailer/returns", count=3)
    world.fault(kind="server_error", client_id=client, path_prefix="/retailer/returns", count=2, status=503)
    world.fault(kind="cut_body", client_id=client, path_prefix="/retailer/returns", count=2, keep=0.5)
    try:
        assert run_dag("bol_returns_hourly", _hour(world, 5), [conn_id]) == "success"
    finally:
        world.clear_faults()
    assert_tables_equal_truth(world, conn_id)


def test_an_odd_page_lands_nothing(world: World, changed_run: dict[str, Any]) -> None:
    conn_id = SHOP_B[0]
    world.act(conn_id, "register_return", count=1)
    before = {name: table_rows(world.warehouse, name) for name in TABLES}
    world.fault(
        kind="respond", client_id=CLIENTS[conn_id].client_id, path_prefix="/retailer/returns", count=50,
        headers=V10, body=json.dumps({"retours": []}),
    )  # fmt: skip
    try:
        assert run_dag("bol_returns_hourly", _hour(world, 6), [conn_id]) == "failed"
    finally:
        world.clear_faults()
    assert {name: table_rows(world.warehouse, name) for name in TABLES} == before
    errors = query(
        world.warehouse,
        "SELECT error FROM bol.sync_runs WHERE dag_id = 'bol_returns_hourly' AND status = 'failed'",
    )
    assert any("'returns' list" in str(error) for (error,) in errors)


def _extract(world: World, conn_id: str, folder: Path, end: datetime) -> tuple[Any, Path]:
    hook = BolRetailerHook(conn_id)
    folder.mkdir(parents=True)
    result = extract_returns(
        hook, hook_fetch(hook, lambda: datetime.now(UTC)), folder,
        WarehouseReturns(world.warehouse, CLIENTS[conn_id].retailer_id),
        SyncWindow(end - timedelta(hours=1), end), full=False,
    )  # fmt: skip
    return result, folder


def test_an_older_read_loaded_after_a_newer_one_changes_nothing(
    world: World, changed_run: dict[str, Any], tmp_path: Path
) -> None:
    conn_id = SHOP_B[0]
    made = world.act(conn_id, "register_return", count=2)
    end = _hour(world, 8)
    older = _extract(world, conn_id, tmp_path / "older", end)
    world.act(conn_id, "handle_return", rma_id=made["rma_ids"][0])
    newer = _extract(world, conn_id, tmp_path / "newer", end)
    retailer = CLIENTS[conn_id].retailer_id
    with connect_warehouse(world.warehouse) as conn:
        for result, folder in (newer, older):  # the newer read commits first; the older must not undo it
            scans = [MethodScanned.of(scan.method, scan.info()) for scan in result.scans]
            load_returns(conn, retailer, folder, scans=scans, not_found=result.not_found)
    assert_tables_equal_truth(world, conn_id)
    handled = query(world.warehouse, "SELECT handled FROM bol.returns WHERE return_id = ?", [made["return_ids"][0]])
    assert handled == [(True,)]


def test_two_runs_at_once_give_the_truth(world: World, changed_run: dict[str, Any], tmp_path: Path) -> None:
    """The hourly DAG here and the daily DAG in a second Airflow process (its own metadata DB), at the same
    moment, on one warehouse, staging area, rate budget and token."""
    conn_id = SHOP_A[0]
    account = CLIENTS[conn_id]
    made = world.act(conn_id, "register_return", count=3)
    world.act(conn_id, "handle_return", rma_id=made["rma_ids"][0])
    bol_connection(conn_id, world.url, account.client_id, account.client_secret,
                   **{**FAST, "rate_limit_per_second": 4})  # fmt: skip
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    home = tmp_path / "airflow-child"
    database = _copy_airflow_db(home)
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    daily = datetime.combine(today, datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
    out, err = tmp_path / "child.out", tmp_path / "child.err"
    try:
        with out.open("w") as stdout, err.open("w") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", CONCURRENT_RUN, str(barrier), "bol_returns_daily", daily.isoformat(), conn_id],
                cwd=REPO,
                env=_subprocess_env(
                    AIRFLOW_HOME=str(home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{database}"
                ),
                stdout=stdout,
                stderr=stderr,
            )
            try:
                deadline = time.time() + 120
                while not (barrier / "child").exists() and child.poll() is None and time.time() < deadline:
                    time.sleep(0.005)
                (barrier / "parent").touch()
                started = time.time()
                state = run_dag("bol_returns_hourly", _hour(world, 9), [conn_id])
                ended = time.time()
                child.wait(timeout=240)
            finally:
                if child.poll() is None:
                    child.kill()
    finally:
        bol_connection(conn_id, world.url, account.client_id, account.client_secret, **FAST)
    errors = err.read_text()
    results = [line.split() for line in out.read_text().splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0, errors[-3000:]
    assert results, errors[-3000:]
    child_state, child_started, child_ended = results[-1][1], float(results[-1][2]), float(results[-1][3])
    assert (state, child_state) == ("success", "success")
    assert max(started, child_started) < min(ended, child_ended), "the two runs did not overlap"
    assert_tables_equal_truth(world, conn_id)


def test_a_backfill_of_days_a_full_scan_observed_already_reads_nothing(
    world: World, changed_run: dict[str, Any]
) -> None:
    conn_id = SHOP_B[0]
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    lists = world.requests("GET /retailer/returns")
    for day in (today - timedelta(days=2), today - timedelta(days=1)):  # the first run was a full scan, after them
        logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
        assert run_dag("bol_returns_daily", logical, [conn_id]) == "success"
    assert world.requests("GET /retailer/returns") == lists
    covered = query(
        world.warehouse,
        "SELECT count(*) FROM bol.sync_coverage WHERE stream = 'returns' AND dag_id = 'bol_returns_daily' "
        "AND conn_id = ?",
        [conn_id],
    )
    assert covered == [(2,)]
    # Today's window ends after that scan: the daily run reads the handled lists to their end.
    logical = datetime.combine(today + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
    assert run_dag("bol_returns_daily", logical, [conn_id]) == "success"
    returns = world.truth(conn_id, "returns")
    pages = sum(
        sum(1 for r in returns if r["handled"] is handled and r["fulfilment_method"] == method) // 50 + 1
        for method in ("FBR", "FBB")
        for handled in (True, False)
    )
    assert world.requests("GET /retailer/returns") - lists == pages
    assert_tables_equal_truth(world, conn_id)
