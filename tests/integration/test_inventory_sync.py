"""The FBB inventory DAG end to end: emulator over HTTP -> real Airflow task runs (dag.test) -> DuckDB, checked
against the emulator's inventory truth after runs, stock changes, reruns, transport faults, a bad record, a short
list (held, alerted once, the snapshot whole, then confirmed), a past day and two runs at once; a day no run
captured is reported LOST by the coverage check. ``test_inventory_sync_postgres`` runs the same into PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.inventory.extract import list_calls
from bolsync.runs.deletion_holds import open_holds
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from tests.integration.test_faults import CONCURRENT_RUN, _copy_airflow_db, _quick_retries, _subprocess_env
from tests.support.airflow_env import REPO, bol_connection, query, run_dag, table_rows, warehouse_connection
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

SHOP, OTHER = "bol_inv_a", "bol_inv_b"
ACCOUNTS = {
    SHOP: AccountConfig("inv-client-a", "inv-secret-a", "5000001"),
    OTHER: AccountConfig("inv-client-b", "inv-secret-b", "5000002"),
}
LIMITS = {"GET /retailer/inventory": [400, 60]}
LABEL = "GET /retailer/inventory"
COLUMNS = ["ean", "bsku", "title", "regular_stock", "graded_stock"]
DAG = "bol_inventory_daily"
V10 = {"Content-Type": "application/vnd.retailer.v10+json"}


class Inventory:
    """The module's emulator, warehouse and alert inbox."""

    def __init__(self, url: str, warehouse: Path | WarehouseTarget, sink: SmtpSink) -> None:
        self.url = url
        self.warehouse = warehouse
        self.sink = sink

    def truth(self, conn_id: str) -> list[dict[str, Any]]:
        client = ACCOUNTS[conn_id].client_id
        response = requests.get(f"{self.url}/_emulator/accounts/{client}/inventory", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def change_stock(self, conn_id: str, ean: str, regular: int, graded: int) -> None:
        body = {"client_id": ACCOUNTS[conn_id].client_id, "action": "change_stock", "ean": ean}
        body.update(regular_stock=regular, graded_stock=graded)
        requests.post(f"{self.url}/_emulator/world", json=body, timeout=10).raise_for_status()

    def fault(self, **body: object) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=body, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()

    def calls(self) -> int:
        stats = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()
        return int(stats["requests"].get(LABEL, {}).get("200", 0))


def entries(truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Truth rows as bol's ``Inventory`` entries."""
    return [
        {"ean": t["ean"], "bsku": t["bsku"], "gradedStock": t["graded_stock"], "regularStock": t["regular_stock"],
         "title": t["title"]}
        for t in truth
    ]  # fmt: skip


def run(logical_date: datetime | None = None, accounts: tuple[str, ...] = (SHOP,), **conf: object) -> str:
    """One run of the inventory DAG (by default a manual run now) for ``accounts``; its state."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[DAG]
    state = dag.test(logical_date=logical_date or datetime.now(UTC), run_conf={"accounts": list(accounts), **conf})
    return str(state.state)


def today() -> date:
    return datetime.now(UTC).astimezone(AMSTERDAM).date()


def stored(env: Inventory, conn_id: str) -> dict[str, dict[str, Any]]:
    sql = f"SELECT {', '.join(COLUMNS)}, listed, first_seen_on, last_seen_on FROM bol.inventory WHERE retailer_id = ?"
    rows = query(env.warehouse, sql, [ACCOUNTS[conn_id].retailer_id])
    return {row[0]: dict(zip([*COLUMNS, "listed", "first_seen_on", "last_seen_on"], row, strict=True)) for row in rows}


def snapshot(env: Inventory, conn_id: str, day: date | None = None) -> dict[str, tuple]:
    rows = query(
        env.warehouse,
        "SELECT ean, regular_stock, graded_stock, carried_over FROM bol.inventory_snapshots "
        "WHERE retailer_id = ? AND snapshot_date = ?",
        [ACCOUNTS[conn_id].retailer_id, day or today()],
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def assert_matches_truth(env: Inventory, conn_id: str) -> int:
    truth = env.truth(conn_id)
    rows = stored(env, conn_id)
    listed = {ean: row for ean, row in rows.items() if row["listed"]}
    assert {t["ean"]: [t[c] for c in COLUMNS] for t in truth} == {
        ean: [row[c] for c in COLUMNS] for ean, row in listed.items()
    }
    assert snapshot(env, conn_id) == {t["ean"]: (t["regular_stock"], t["graded_stock"], False) for t in truth}
    return len(truth)


def everything(env: Inventory) -> list[list[tuple]]:
    return [table_rows(env.warehouse, table) for table in ("inventory", "inventory_snapshots")]


def last_load(env: Inventory, conn_id: str = SHOP) -> dict[str, Any]:
    columns = ["status", "records_listed", "deletions_held", "quarantined", "covered", "error", "window_start"]
    rows = query(
        env.warehouse,
        f"SELECT {', '.join(columns)} FROM bol.sync_runs WHERE dag_id = ? AND task_id = 'sync_account.load' "
        "AND conn_id = ? ORDER BY finished_at DESC LIMIT 1",
        [DAG, conn_id],
    )
    return dict(zip(columns, rows[0], strict=True))


def covered_days(env: Inventory, conn_id: str = SHOP) -> list[date]:
    rows = query(
        env.warehouse,
        "SELECT window_start FROM bol.sync_coverage WHERE stream = 'inventory' AND conn_id = ? ORDER BY 1",
        [conn_id],
    )
    return [start.astimezone(AMSTERDAM).date() for (start,) in rows]


def subjects(sink: SmtpSink) -> list[str]:
    return [str(message["Subject"]) for message in sink.messages]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inventory") / "warehouse.duckdb"
    warehouse_connection(path)
    return path


@pytest.fixture(scope="module")
def env(airflow_db, warehouse: Path | WarehouseTarget) -> Iterator[Inventory]:
    """Two shops of 60 FBB EANs each (two pages; REGULAR, GRADED and empty stock), one first run of both."""
    from bolsync_provider.transport import retry

    patch = pytest.MonkeyPatch()
    patch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.05)
    handle = start_emulator(
        EmulatorConfig(seed=5, accounts=list(ACCOUNTS.values()), orders_per_day=40, history_days=30, rate_scale=20.0)
    )
    for conn_id, account in ACCOUNTS.items():
        bol_connection(
            conn_id,
            handle.base_url,
            account.client_id,
            account.client_secret,
            rate_limit_per_second=200,
            endpoint_rate_limits=LIMITS,
            max_attempts=6,
        )
    with SmtpSink() as sink:
        sink.use_as_alert_channel()
        inventory = Inventory(handle.base_url, warehouse, sink)
        assert run(accounts=(SHOP, OTHER)) == "success"
        yield inventory
    handle.stop()
    patch.undo()


def test_the_first_run_equals_the_truth_and_covers_today(env: Inventory) -> None:
    for conn_id in (SHOP, OTHER):
        truth = env.truth(conn_id)
        assert len(truth) > 50  # two pages
        assert any(t["graded_stock"] for t in truth)
        assert any(t["regular_stock"] == 0 for t in truth)  # every stock level, REGULAR and GRADED
        assert assert_matches_truth(env, conn_id) == len(truth)
        assert {(r["first_seen_on"], r["last_seen_on"]) for r in stored(env, conn_id).values()} == {(today(), today())}
        assert covered_days(env, conn_id) == [today()]
    extract = query(
        env.warehouse,
        "SELECT pages, records_listed, queries, window_start FROM bol.sync_runs "
        "WHERE dag_id = ? AND task_id = 'sync_account.extract' AND conn_id = ?",
        [DAG, SHOP],
    )
    [(pages, listed, queries, window_start)] = extract
    assert (pages, listed) == (2, 60)
    assert "no filter" in queries
    assert env.calls() == 2 * list_calls(60)  # per shop: two pages and the empty page that ends the list
    assert window_start.astimezone(AMSTERDAM) == datetime.combine(today(), datetime.min.time(), AMSTERDAM)
    load = last_load(env)
    assert (load["status"], load["records_listed"], load["deletions_held"], load["covered"]) == ("success", 60, 0, True)


def test_a_rerun_changes_no_row(env: Inventory) -> None:
    before, calls = everything(env), env.calls()
    assert run() == "success"
    assert everything(env) == before
    assert env.calls() - calls == list_calls(60)


def test_stock_changes_land_and_only_their_rows_change(env: Inventory) -> None:
    first, second = env.truth(SHOP)[4], env.truth(SHOP)[55]
    env.change_stock(SHOP, first["ean"], first["regular_stock"] + 7, 3)
    env.change_stock(SHOP, second["ean"], 0, 0)
    before = {row[1]: row for row in table_rows(env.warehouse, "inventory")}
    assert run() == "success"
    assert_matches_truth(env, SHOP)
    after = {row[1]: row for row in table_rows(env.warehouse, "inventory")}
    assert {ean for ean in after if after[ean] != before[ean]} == {first["ean"], second["ean"]}
    rows = query(
        env.warehouse,
        "SELECT rows_updated FROM bol.sync_runs WHERE dag_id = ? AND task_id = 'sync_account.load' AND conn_id = ? "
        "ORDER BY finished_at DESC LIMIT 1",
        [DAG, SHOP],
    )
    assert rows == [(4,)]  # two EANs and their two snapshot rows


def test_transport_faults_are_absorbed_or_land_nothing(env: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = {"path_prefix": "/retailer/inventory", "client_id": ACCOUNTS[SHOP].client_id}
    env.fault(kind="burst_429", count=2, seconds=0, **prefix)
    env.fault(kind="server_error", status=503, count=1, **prefix)
    env.fault(kind="cut_body", keep=0.6, count=1, **prefix)
    assert run() == "success"
    assert_matches_truth(env, SHOP)
    env.clear_faults()

    moved = env.truth(SHOP)[20]
    env.change_stock(SHOP, moved["ean"], moved["regular_stock"] + 11, moved["graded_stock"])
    before = everything(env)
    _quick_retries(monkeypatch, retries=0)
    env.fault(kind="cut_body", keep=0.5, count=100, path_prefix="/retailer/inventory", client_id=prefix["client_id"])
    assert run() == "failed"
    assert everything(env) == before  # not a page of it landed
    env.clear_faults()
    env.sink.clear()
    assert run() == "success"
    assert_matches_truth(env, SHOP)


def test_an_odd_page_shape_fails_the_run_and_lands_nothing(env: Inventory) -> None:
    truth = env.truth(SHOP)
    page = entries(truth[:50])
    page[3]["regularStock"] += 9  # what page 1 would land, were it loaded alone
    before = everything(env)
    respond = {"path_prefix": "/retailer/inventory", "client_id": ACCOUNTS[SHOP].client_id, "headers": V10}
    env.fault(kind="respond", body=json.dumps({"inventory": page}), **respond)
    env.fault(kind="respond", body=json.dumps({"inventory": {"ean": truth[50]["ean"]}}), **respond)
    env.sink.clear()
    assert run() == "failed"
    assert everything(env) == before
    errors = query(
        env.warehouse,
        "SELECT error FROM bol.sync_runs WHERE dag_id = ? AND task_id = 'sync_account.extract' AND status = 'failed' "
        "ORDER BY finished_at DESC LIMIT 1",
        [DAG],
    )
    assert "'inventory' is not a list of objects" in errors[0][0]
    env.clear_faults()
    assert run() == "success"
    assert_matches_truth(env, SHOP)


def test_a_bad_record_is_held_in_the_quarantine_and_the_rest_lands(env: Inventory) -> None:
    truth = env.truth(SHOP)
    bad = truth[0]
    moved = truth[55]  # on page 2, which bol answers as it is
    env.change_stock(SHOP, moved["ean"], moved["regular_stock"] + 5, moved["graded_stock"])
    known = stored(env, SHOP)[bad["ean"]]
    page = entries(truth[:50])
    page[0]["regularStock"] = 2**31
    env.sink.clear()
    env.fault(
        kind="respond",
        body=json.dumps({"inventory": page}),
        headers=V10,
        path_prefix="/retailer/inventory",
        client_id=ACCOUNTS[SHOP].client_id,
    )
    assert run() == "success"
    rows = stored(env, SHOP)
    assert rows[bad["ean"]] == known  # held: its last known stock stays, still listed
    assert rows[moved["ean"]]["regular_stock"] == moved["regular_stock"] + 5  # the rest landed
    assert snapshot(env, SHOP)[bad["ean"]] == (known["regular_stock"], known["graded_stock"], True)
    assert len(snapshot(env, SHOP)) == 60
    held = query(
        env.warehouse,
        "SELECT record_key, field, window_start FROM bol.quarantine WHERE stream = 'inventory' AND released_at IS NULL",
    )
    assert [(key, field, start.astimezone(AMSTERDAM).date()) for key, field, start in held] == [
        (bad["ean"], "regular_stock", today())
    ]
    assert (last_load(env)["quarantined"], last_load(env)["covered"]) == (1, True)
    assert subjects(env.sink) == [f"[bolsync] inventory of {SHOP}: 1 record(s) held in quarantine"]
    assert run() == "success"  # bol sends it right again: it lands and is released
    assert_matches_truth(env, SHOP)
    assert query(env.warehouse, "SELECT count(*) FROM bol.quarantine WHERE released_at IS NULL") == [(0,)]


def test_a_short_list_holds_its_deletions_alerts_once_and_keeps_the_snapshot_whole(env: Inventory) -> None:
    env.sink.clear()
    env.fault(kind="short_inventory", keep=3, client_id=ACCOUNTS[SHOP].client_id)
    assert run() == "success"
    rows = stored(env, SHOP)
    assert len(rows) == 60
    assert all(row["listed"] for row in rows.values())
    day = snapshot(env, SHOP)
    assert len(day) == 60
    assert sum(1 for values in day.values() if values[2]) == 57  # carried over at their last known stock
    load = last_load(env)
    assert (load["records_listed"], load["deletions_held"], load["covered"]) == (3, 57, False)
    assert "these deletions are held" in load["error"]
    with connect_warehouse(env.warehouse) as conn:
        holds = open_holds(conn, "inventory", ACCOUNTS[SHOP].retailer_id)
    assert [(h["live"], h["held"], h["source"]) for h in holds] == [(60, 57, "bol's FBB inventory list")]
    assert subjects(env.sink) == [
        f"[bolsync] {SHOP}: bol's FBB inventory list would delete 57 of 60 EANs; held until confirmed"
    ]
    text = env.sink.bodies()[0]
    assert f"""airflow dags trigger {DAG} --conf '{{"confirm_deletions": true}}'""" in text


def test_the_confirmed_run_applies_them_and_a_complete_list_brings_them_back(env: Inventory) -> None:
    env.sink.clear()
    assert run(confirm_deletions=True) == "success"
    rows = stored(env, SHOP)
    assert sum(1 for row in rows.values() if row["listed"]) == 3
    assert len(snapshot(env, SHOP)) == 3
    with connect_warehouse(env.warehouse) as conn:
        assert open_holds(conn, "inventory", ACCOUNTS[SHOP].retailer_id) == []
    assert env.sink.messages == []
    env.clear_faults()
    assert run() == "success"
    assert_matches_truth(env, SHOP)
    assert last_load(env)["covered"] is True


def test_a_small_clear_out_is_checked_ean_by_ean_and_applied(env: Inventory) -> None:
    env.sink.clear()
    env.fault(kind="short_inventory", keep=58, client_id=ACCOUNTS[SHOP].client_id)
    calls = env.calls()
    assert run() == "success"
    assert env.calls() - calls == list_calls(58) + 2  # the list, then one lookup per EAN it no longer names
    gone = {ean for ean, row in stored(env, SHOP).items() if not row["listed"]}
    assert gone == {t["ean"] for t in env.truth(SHOP)[58:]}
    assert len(snapshot(env, SHOP)) == 58
    assert env.sink.messages == []
    env.clear_faults()
    assert run() == "success"
    assert_matches_truth(env, SHOP)


def test_a_past_day_changes_nothing_and_says_so(env: Inventory) -> None:
    before, calls, days = everything(env), env.calls(), covered_days(env)
    assert run(datetime.now(UTC) - timedelta(days=3)) == "success"
    assert everything(env) == before
    assert env.calls() == calls
    assert covered_days(env) == days
    load = last_load(env)
    assert load["covered"] is False
    assert "bol keeps no stock history" in load["error"]


def test_a_day_no_run_captured_is_reported_lost(env: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    missed = today() - timedelta(days=2)
    monkeypatch.setenv("AIRFLOW_VAR_BOLSYNC_COVERAGE_HISTORY_START", missed.isoformat())
    env.sink.clear()
    assert run_dag("bol_coverage_check", datetime.now(UTC), [SHOP]) == "success"
    mails = [m for m in env.sink.messages if str(m["Subject"]).startswith(f"[bolsync] inventory of {SHOP}")]
    assert len(mails) == 1
    assert "lost" in str(mails[0]["Subject"])
    body = env.sink.bodies()[env.sink.messages.index(mails[0])]
    assert f"LOST: inventory of {SHOP}, {missed}" in body
    assert "bol keeps no history of the FBB stock per EAN, so these days cannot be recreated" in body
    assert "BACKFILL" not in body


def test_two_runs_at_once_give_the_tables_of_one(env: Inventory, tmp_path: Path) -> None:
    """Two Airflow processes run the DAG for the same moment: one warehouse, staging area and rate budget."""
    moved = env.truth(SHOP)[42]
    env.change_stock(SHOP, moved["ean"], moved["regular_stock"] + 3, moved["graded_stock"])
    logical = datetime.now(UTC)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    home = tmp_path / "airflow-child"
    database = _copy_airflow_db(home)
    out, err = tmp_path / "child.out", tmp_path / "child.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_RUN, str(barrier), DAG, logical.isoformat(), SHOP],
            cwd=REPO,
            env=_subprocess_env(AIRFLOW_HOME=str(home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{database}"),
            stdout=stdout,
            stderr=stderr,
        )
        try:
            deadline = time.time() + 120
            while not (barrier / "child").exists() and child.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            (barrier / "parent").touch()
            started = time.time()
            state = run(logical)
            ended = time.time()
            child.wait(timeout=240)
        finally:
            if child.poll() is None:
                child.kill()
    results = [line.split() for line in out.read_text().splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0, err.read_text()[-3000:]
    assert (state, results[-1][1]) == ("success", "success")
    assert max(started, float(results[-1][2])) < min(ended, float(results[-1][3])), "the two runs did not overlap"
    assert_matches_truth(env, SHOP)
    before = everything(env)
    assert run() == "success"
    assert everything(env) == before
