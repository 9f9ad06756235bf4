"""The offers DAG end to end: emulator over HTTP -> real Airflow task runs (the export wait deferred and run
by dag.test's in-process triggerer) -> DuckDB, checked against the emulator's offer ground truth."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget
from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS
from tests.support.airflow_env import REPO, bol_connection, query

pytestmark = pytest.mark.integration
ACCOUNTS = ["bol_shop_a", "bol_shop_b"]
OFFER_LIMITS = {
    "POST /retailer/offers/export": [400, 60],
    "GET /retailer/offers/export/{id}": [400, 60],
    "GET /retailer/offers": [400, 1],
    "GET /shared/process-status/{id}": [400, 1],
}
COLUMNS = [
    "offer_id",
    "ean",
    "condition_name",
    "condition_category",
    "condition_comment",
    "unit_price",
    "fulfilment_delivery_code",
    "stock_amount",
    "on_hold_by_retailer",
    "fulfilment_type",
    "mutation_date_time",
    "reference_code",
    "economic_operator_id",
    "deleted",
]


def run_offers(logical_date: datetime, **conf: object) -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["bol_offers_daily"]
    run = dag.test(logical_date=logical_date, run_conf={"accounts": ACCOUNTS, **conf})
    return str(run.state)


def _now_run() -> datetime:
    """A logical date whose inferred interval is yesterday (Amsterdam), ending at today's midnight."""
    return datetime.now(UTC)


def truth(emulator, conn_id: str) -> list[dict]:
    client = ACCOUNT_CONFIGS[conn_id].client_id
    response = requests.get(f"{emulator.url}/_emulator/accounts/{client}/offers", timeout=10)
    response.raise_for_status()
    return response.json()


def world(emulator, conn_id: str, action: str, count: int) -> list[str]:
    body = {"client_id": ACCOUNT_CONFIGS[conn_id].client_id, "action": action, "count": count}
    response = requests.post(f"{emulator.url}/_emulator/world", json=body, timeout=10)
    response.raise_for_status()
    return response.json()["offer_ids"]


def stored(warehouse: Path | WarehouseTarget, conn_id: str) -> dict[str, dict]:
    retailer = ACCOUNT_CONFIGS[conn_id].retailer_id
    rows = query(warehouse, f"SELECT {', '.join(COLUMNS)} FROM bol.offers WHERE retailer_id = ?", [retailer])
    return {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows}


def all_rows(warehouse: Path | WarehouseTarget) -> dict[str, list[tuple]]:
    order = {"offers": "1, 2", "offer_snapshots": "1, 2, 3", "offer_sync_state": "1"}
    return {table: query(warehouse, f"SELECT * FROM bol.{table} ORDER BY {keys}") for table, keys in order.items()}


def assert_matches_truth(
    warehouse: Path | WarehouseTarget, emulator, conn_id: str, *, delivery_codes: bool = True
) -> None:
    rows = stored(warehouse, conn_id)
    live = {offer_id: row for offer_id, row in rows.items() if not row["deleted"]}
    expected = truth(emulator, conn_id)
    assert set(live) == {t["offer_id"] for t in expected}
    for t in expected:
        row = live[t["offer_id"]]
        assert row["ean"] == t["ean"]
        assert row["condition_name"] == t["condition_name"]
        assert row["condition_category"] == t["condition_category"]
        assert row["condition_comment"] == t["condition_comment"]
        assert row["unit_price"] == Decimal(str(t["price"])).quantize(Decimal("0.01"))
        assert row["stock_amount"] == t["stock_amount"]
        assert row["on_hold_by_retailer"] == t["on_hold"]
        assert row["fulfilment_type"] == t["fulfilment_method"]
        assert row["reference_code"] == t["reference"]
        assert row["economic_operator_id"] == t["economic_operator_id"]
        assert row["mutation_date_time"] == datetime.fromisoformat(t["last_modified_at"])
        if delivery_codes:
            assert row["fulfilment_delivery_code"] == t["delivery_code"]


@pytest.fixture(scope="module")
def offers_env(airflow_db, emulator, warehouse):
    for conn_id, account in ACCOUNT_CONFIGS.items():
        bol_connection(
            conn_id,
            emulator.url,
            account.client_id,
            account.client_secret,
            rate_limit_per_second=200,
            endpoint_rate_limits=OFFER_LIMITS,
        )
    # One PENDING answer, so the task really defers and the trigger polls more than once.
    requests.post(f"{emulator.url}/_emulator/config", json={"export_pending_polls": 1}, timeout=10).raise_for_status()
    os.environ["AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS"] = "0.2"
    yield emulator
    os.environ.pop("AIRFLOW_VAR_BOLSYNC_OFFERS_SOURCE", None)


@pytest.fixture(scope="module")
def exported(offers_env, warehouse):
    assert run_offers(_now_run()) == "success"
    return offers_env


def test_export_run_matches_ground_truth(exported, warehouse) -> None:
    for conn_id in ACCOUNTS:
        assert_matches_truth(warehouse, exported, conn_id)
    snapshot_days = query(warehouse, "SELECT DISTINCT snapshot_date FROM bol.offer_snapshots")
    yesterday = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=1)
    assert snapshot_days == [(yesterday,)]
    counts = query(warehouse, "SELECT count(*) FROM bol.offer_snapshots GROUP BY retailer_id ORDER BY 1")
    assert [c for (c,) in counts] == sorted(len(truth(exported, conn_id)) for conn_id in ACCOUNTS)
    stats = exported.stats()["requests"]
    assert "GET /shared/process-status/{process-status-id}" in stats
    audit = query(
        warehouse,
        "SELECT task_id, status, offers_listed FROM bol.sync_runs WHERE dag_id = 'bol_offers_daily' ORDER BY 1",
    )
    assert {row[0] for row in audit} >= {"sync_account.extract", "sync_account.load"}
    assert all(row[1] == "success" for row in audit)


def test_rerun_of_the_day_changes_nothing(exported, warehouse) -> None:
    before = all_rows(warehouse)
    assert run_offers(_now_run()) == "success"
    assert all_rows(warehouse) == before


def test_world_change_then_rerun(exported, warehouse) -> None:
    changed = world(exported, "bol_shop_a", "change_offers", 5)
    added = world(exported, "bol_shop_a", "new_offers", 2)
    deleted = world(exported, "bol_shop_a", "delete_offers", 1)
    assert run_offers(_now_run()) == "success"
    assert_matches_truth(warehouse, exported, "bol_shop_a")
    rows = stored(warehouse, "bol_shop_a")
    assert all(not rows[offer_id]["deleted"] for offer_id in changed + added)
    assert rows[deleted[0]]["deleted"] is True  # the export is a full list: a missing offer is deleted
    snapshot = query(
        warehouse,
        "SELECT count(*) FROM bol.offer_snapshots s JOIN bol.offers o USING (retailer_id, offer_id) WHERE o.deleted",
    )
    assert snapshot == [(0,)]  # the day's snapshot was replaced by the rerun


def test_a_new_column_and_a_shuffled_layout_are_read_by_header(exported, warehouse) -> None:
    exported.fault(kind="csv_columns", extra=["brandNewColumn"], position=2, order="shuffled")
    try:
        assert run_offers(_now_run()) == "success"
        for conn_id in ACCOUNTS:
            assert_matches_truth(warehouse, exported, conn_id)
        extras = query(warehouse, "SELECT DISTINCT CAST(extra AS VARCHAR) FROM bol.offers WHERE NOT deleted")
        assert extras == [('{"brandNewColumn":"extra"}',)]
    finally:
        exported.clear_faults()


def test_v11_incremental_and_full_sweep_flags_deletions(exported, warehouse) -> None:
    os.environ["AIRFLOW_VAR_BOLSYNC_OFFERS_SOURCE"] = "v11"
    try:
        assert run_offers(_now_run(), full_sweep=True) == "success"
        for conn_id in ACCOUNTS:
            assert_matches_truth(warehouse, exported, conn_id)
        before = exported.stats()["requests"].get("GET /retailer/offers", {})
        changed = world(exported, "bol_shop_b", "change_offers", 3)
        assert run_offers(_now_run()) == "success"  # incremental: only offers modified since the newest stored
        assert_matches_truth(warehouse, exported, "bol_shop_b")
        after = exported.stats()["requests"].get("GET /retailer/offers", {})
        assert sum(after.values()) - sum(before.values()) == len(ACCOUNTS)  # one small page per account
        deleted = world(exported, "bol_shop_b", "delete_offers", 2)
        assert run_offers(_now_run()) == "success"
        assert stored(warehouse, "bol_shop_b")[deleted[0]]["deleted"] is False  # incremental cannot see it
        assert run_offers(_now_run(), full_sweep=True) == "success"
        rows = stored(warehouse, "bol_shop_b")
        assert all(rows[offer_id]["deleted"] for offer_id in deleted)
        assert all(not rows[offer_id]["deleted"] for offer_id in changed)
        assert_matches_truth(warehouse, exported, "bol_shop_b")
    finally:
        os.environ.pop("AIRFLOW_VAR_BOLSYNC_OFFERS_SOURCE", None)


def test_past_day_rerun_changes_nothing(exported, warehouse, caplog) -> None:
    before = all_rows(warehouse)
    loads = "SELECT count(*) FROM bol.sync_runs WHERE task_id <> 'sync_account.check_auth'"
    audit_before = query(warehouse, loads)
    calls_before = exported.stats()["requests"].get("POST /retailer/offers/export", {})
    with caplog.at_level("WARNING"):
        assert run_offers(datetime.now(UTC) - timedelta(days=3)) == "success"
    assert "bol keeps no offer history" in caplog.text
    assert all_rows(warehouse) == before
    assert query(warehouse, loads) == audit_before  # only the auth check ran and recorded itself
    assert exported.stats()["requests"].get("POST /retailer/offers/export", {}) == calls_before


def test_the_load_emits_asset_events_with_row_counts(exported, warehouse) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == "bol_offers_daily")
            .order_by(AssetEvent.id)
        ).all()
    for conn_id in ACCOUNTS:
        retailer_id = ACCOUNT_CONFIGS[conn_id].retailer_id
        mine = [(name, extra) for name, extra in events if (extra or {}).get("conn_id") == conn_id]
        offers = [extra for name, extra in mine if name == "bol.offers" and "rows" in extra]
        assert offers, mine
        [(rows,)] = query(warehouse, "SELECT count(*) FROM bol.offers WHERE retailer_id = ?", [retailer_id])
        assert offers[-1]["rows"] == rows > 0
        assert offers[0]["inserted"] == offers[0]["rows"]  # the module's first export inserted every offer
        assert {name for name, _ in mine} == {"bol.offers", "bol.offer_snapshots"}
