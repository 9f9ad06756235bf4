"""The shipments' customer data through the DAGs: the shipment and billing details of an opted-in account land in
the orders' table of the personal store (a row per order); nothing of an account not opted in reaches the
warehouse, the personal store or the raw archive."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration.test_personal_data_sync import personal_rows
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection

pytestmark = pytest.mark.integration

OPTED_IN = ("shp_pii_in", AccountConfig("shp-pii-in", "shp-pii-secret-in", "5100001"))
DEFAULT = ("shp_pii_out", AccountConfig("shp-pii-out", "shp-pii-secret-out", "5100002"))
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {"GET /retailer/shipments": [400, 60], "GET /retailer/shipments/{id}": [400, 1]},
}
SHIPMENTS: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(scope="module")
def raw_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("shp-pii-raw") / "archive"
    os.environ["AIRFLOW__BOLSYNC__ARCHIVE_URL"] = str(root)
    yield root
    os.environ.pop("AIRFLOW__BOLSYNC__ARCHIVE_URL", None)


@pytest.fixture(scope="module")
def synced(airflow_db: None, tmp_path_factory: pytest.TempPathFactory, raw_archive: Path) -> Iterator[WarehouseTarget]:
    target = as_target(tmp_path_factory.mktemp("shp-pii") / "warehouse.duckdb")
    warehouse_connection(target)
    handle = start_emulator(
        EmulatorConfig(seed=5, accounts=[OPTED_IN[1], DEFAULT[1]], orders_per_day=10, history_days=3, rate_scale=20.0)
    )
    bol_connection(OPTED_IN[0], handle.base_url, OPTED_IN[1].client_id, OPTED_IN[1].client_secret,
                   personal_data={"store": True, "retention_days": 30}, **FAST)  # fmt: skip
    bol_connection(DEFAULT[0], handle.base_url, DEFAULT[1].client_id, DEFAULT[1].client_secret, **FAST)
    logical = datetime.now(UTC).replace(minute=5, second=0, microsecond=0) - timedelta(hours=60)
    assert run_dag("bol_shipments_hourly", logical, [OPTED_IN[0], DEFAULT[0]]) == "success"
    for _, account in (OPTED_IN, DEFAULT):
        truth = requests.get(f"{handle.base_url}/_emulator/accounts/{account.client_id}/shipments", timeout=10)
        SHIPMENTS[account.retailer_id] = truth.json()
    yield target
    handle.stop()


def _surnames(retailer_id: str) -> set[str]:
    return {s["shipment_details"]["surname"] for s in SHIPMENTS[retailer_id] if s["shipment_details"].get("surname")}


def test_the_opted_in_accounts_shipments_fill_the_personal_store(synced: WarehouseTarget) -> None:
    rows = personal_rows(synced)
    assert {row[0] for row in rows} == {OPTED_IN[1].retailer_id}
    stored = query(synced, "SELECT DISTINCT order_id FROM bol.shipments WHERE retailer_id = ?",
                   [OPTED_IN[1].retailer_id])  # fmt: skip
    assert len(stored) > 10
    assert {row[1] for row in rows} == {order for (order,) in stored}
    truth = {s["order_id"]: s["shipment_details"]["surname"] for s in SHIPMENTS[OPTED_IN[1].retailer_id]}
    assert all(row[2] == truth[row[1]] for row in rows)


def test_no_customer_data_in_the_warehouse_or_the_archive_of_an_account_not_opted_in(
    synced: WarehouseTarget, raw_archive: Path
) -> None:
    everyone = _surnames(OPTED_IN[1].retailer_id) | _surnames(DEFAULT[1].retailer_id)
    assert everyone
    tables = {t for (t,) in query(synced, "SELECT table_name FROM information_schema.tables WHERE table_schema='bol'")}
    dump = " ".join(str(value) for table in sorted(tables) for row in query(synced, f"SELECT * FROM bol.{table}")
                    for value in row)  # fmt: skip
    assert not [name for name in everyone if name in dump]
    archived = {
        path: gzip.decompress(path.read_bytes()).decode("utf-8")
        for path in raw_archive.rglob("*.gz")
        if "bol_shipments_hourly" in path.parts
    }
    out = [text for path, text in archived.items() if DEFAULT[0] in path.parts]
    opted = [text for path, text in archived.items() if OPTED_IN[0] in path.parts]
    assert out
    assert opted
    assert not [name for name in _surnames(DEFAULT[1].retailer_id) if any(name in text for text in out)]
    assert any(name in text for name in _surnames(OPTED_IN[1].retailer_id) for text in opted)  # kept: opted in
