"""Integration fixtures: a real emulator over HTTP, real Airflow (dag.test) and a DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from tests.support.airflow_env import bol_connection, migrate_airflow_db, warehouse_connection

ACCOUNTS = {
    "bol_shop_a": AccountConfig("it-client-a", "it-secret-a", "2000001"),
    "bol_shop_b": AccountConfig("it-client-b", "it-secret-b", "2000002"),
}


class Emulator:
    def __init__(self, handle) -> None:
        self.handle = handle
        self.url = handle.base_url

    def truth(self, conn_id: str) -> list[dict]:
        client = ACCOUNTS[conn_id].client_id
        response = requests.get(f"{self.url}/_emulator/accounts/{client}/order-items", timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_emulator/stats", timeout=10).json()

    def world(self, conn_id: str, action: str, count: int) -> dict:
        body = {"client_id": ACCOUNTS[conn_id].client_id, "action": action, "count": count}
        response = requests.post(f"{self.url}/_emulator/world", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def fault(self, **body: object) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=body, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()


@pytest.fixture(autouse=True)
def own_shared_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test its own shared state (rate slots, token lease, alert claims): tests on one pytest worker share an
    AIRFLOW_HOME, and an alert one test sent would otherwise count as already sent in the next."""
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", f"sqlite:///{tmp_path / 'shared_state.sqlite'}")


@pytest.fixture(scope="module")
def airflow_db() -> None:
    migrate_airflow_db()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(
        seed=11, accounts=list(ACCOUNTS.values()), orders_per_day=25, history_days=8, rate_scale=20.0
    )
    handle = start_emulator(config)
    for conn_id, account in ACCOUNTS.items():
        bol_connection(
            conn_id,
            handle.base_url,
            account.client_id,
            account.client_secret,
            rate_limit_per_second=200,
            endpoint_rate_limits={"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
        )
    yield Emulator(handle)
    handle.stop()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    warehouse_connection(path)
    return path
