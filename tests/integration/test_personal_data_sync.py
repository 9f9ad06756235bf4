"""Personal data through the DAGs: nothing stored by default; opted-in accounts land apart (in an owner-only
file on DuckDB), purged on time by ``bol_retention``. Orders and returns (customer details and comments).

On DuckDB here; ``test_personal_data_sync_postgres`` runs the same tests with a PostgreSQL warehouse.
"""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.personal.settings import PersonalStoreSettings
from bolsync.personal.store import RETURNS_TABLE, TABLE, personal_store_path
from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection

OPTED_IN = ("pii_shop_in", AccountConfig("pii-client-in", "pii-secret-in", "5000001"))
DEFAULT = ("pii_shop_out", AccountConfig("pii-client-out", "pii-secret-out", "5000002"))
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {
        "GET /retailer/orders": [400, 60],
        "GET /retailer/orders/{id}": [400, 1],
        "GET /retailer/returns": [400, 60],
        "GET /retailer/returns/{id}": [400, 1],
    },
}


@pytest.fixture(scope="module")
def personal_warehouse(tmp_path_factory: pytest.TempPathFactory) -> WarehouseTarget:
    """The warehouse under test (``bol_warehouse`` set to it)."""
    target = as_target(tmp_path_factory.mktemp("pii") / "warehouse.duckdb")
    warehouse_connection(target)
    return target


@pytest.fixture(scope="module")
def raw_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The raw archive of this module's runs."""
    root = tmp_path_factory.mktemp("pii-raw") / "archive"
    os.environ["AIRFLOW__BOLSYNC__ARCHIVE_URL"] = str(root)
    yield root
    os.environ.pop("AIRFLOW__BOLSYNC__ARCHIVE_URL", None)


#: The emulator's ground truth of each account's return items (with the customer's details and comments).
RETURN_ITEMS: dict[str, list[dict]] = {}


@pytest.fixture(scope="module")
def synced(airflow_db, personal_warehouse: WarehouseTarget, raw_archive: Path) -> Iterator[WarehouseTarget]:
    handle = start_emulator(
        EmulatorConfig(seed=9, accounts=[OPTED_IN[1], DEFAULT[1]], orders_per_day=10, history_days=4, rate_scale=20.0)
    )
    bol_connection(
        OPTED_IN[0],
        handle.base_url,
        OPTED_IN[1].client_id,
        OPTED_IN[1].client_secret,
        personal_data={"store": True, "retention_days": 2},
        **FAST,
    )
    bol_connection(DEFAULT[0], handle.base_url, DEFAULT[1].client_id, DEFAULT[1].client_secret, **FAST)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for days_back in (3, 2, 1):
        assert run_dag("bol_orders_daily", today - timedelta(days=days_back - 1), [OPTED_IN[0], DEFAULT[0]]) == (
            "success"
        )
    for account in (OPTED_IN[1], DEFAULT[1]):  # an open return each: its detail (the customer's details) is read
        body = {
            "client_id": account.client_id,
            "action": "register_return",
            "count": 1,
            "main_reason": "Anders",
            "customer_comments": f"Ik heb me bedacht, groet van {account.client_id}",
        }
        requests.post(f"{handle.base_url}/_emulator/world", json=body, timeout=10).raise_for_status()
    returns_run = datetime.now(UTC).replace(minute=5, second=0, microsecond=0)
    assert run_dag("bol_returns_hourly", returns_run, [OPTED_IN[0], DEFAULT[0]]) == "success"
    for account in (OPTED_IN[1], DEFAULT[1]):
        truth = requests.get(f"{handle.base_url}/_emulator/accounts/{account.client_id}/return-items", timeout=10)
        RETURN_ITEMS[account.retailer_id] = truth.json()
    # The retention DAG purges on its own schedule: the oldest days' contact details are due by then.
    assert run_dag("bol_retention", today, [OPTED_IN[0], DEFAULT[0]]) == "success"
    yield personal_warehouse
    handle.stop()


def personal_rows(warehouse: WarehouseTarget) -> list[tuple]:
    """The personal rows, read as the test's superuser / from the DuckDB file (not through the store)."""
    columns = (
        "retailer_id, order_id, shipment_surname, email_address, email_pseudonym, billing_surname, order_placed_at, "
        "contact_purged_at"
    )
    if warehouse.backend == "postgres":
        return query(warehouse, f"SELECT {columns} FROM {PersonalStoreSettings().table}")
    assert warehouse.path is not None
    conn = duckdb.connect(str(personal_store_path(warehouse.path)), read_only=True)
    try:
        return conn.execute(f"SELECT {columns} FROM {TABLE}").fetchall()
    finally:
        conn.close()


def test_only_the_opted_in_account_has_personal_rows(synced: WarehouseTarget) -> None:
    rows = personal_rows(synced)
    assert rows
    assert {row[0] for row in rows} == {OPTED_IN[1].retailer_id}
    loaded = query(synced, "SELECT count(*) FROM bol.orders WHERE retailer_id = ?", [OPTED_IN[1].retailer_id])
    assert len(rows) == loaded[0][0]  # one personal row per stored order of the account
    assert all(row[4] and len(row[4]) == 64 for row in rows)  # every order has a pseudonymised e-mail


def test_the_warehouse_tables_hold_no_personal_data(synced: WarehouseTarget) -> None:
    personal = personal_rows(synced)
    surnames = {row[5] for row in personal if row[5]}
    assert surnames
    columns = query(synced, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema='bol'")
    assert not any("surname" in column or "email" in column for _, column in columns)
    dump = " ".join(
        str(value)
        for table in sorted({t for t, _ in columns})
        for row in query(synced, f"SELECT * FROM bol.{table}")
        for value in row
    )
    assert not any(surname in dump for surname in surnames)
    assert not any(row[4] in dump for row in personal)  # not even the pseudonyms


def return_customer_rows(warehouse: WarehouseTarget) -> list[tuple]:
    """The personal rows of return items, read as the test's superuser / from the DuckDB file."""
    columns = "retailer_id, rma_id, surname, customer_comments, email_pseudonym, registered_at, contact_purged_at"
    if warehouse.backend == "postgres":
        return query(warehouse, f"SELECT {columns} FROM {PersonalStoreSettings().returns_table}")
    assert warehouse.path is not None
    conn = duckdb.connect(str(personal_store_path(warehouse.path)), read_only=True)
    try:
        return conn.execute(f"SELECT {columns} FROM {RETURNS_TABLE}").fetchall()
    finally:
        conn.close()


def _customer_texts(retailer_id: str) -> set[str]:
    """The surnames and comments of a retailer's returns, as the emulator holds them."""
    texts = set()
    for item in RETURN_ITEMS[retailer_id]:
        texts.add(item["customer_details"]["surname"])
        if item["customer_comments"]:
            texts.add(item["customer_comments"])
    return texts


def test_return_customers_land_for_the_opted_in_account_only(synced: WarehouseTarget) -> None:
    rows = return_customer_rows(synced)
    assert {row[0] for row in rows} == {OPTED_IN[1].retailer_id}
    truth = {item["rma_id"]: item for item in RETURN_ITEMS[OPTED_IN[1].retailer_id]}
    assert {row[1] for row in rows} == set(truth)  # one row per return item of the account
    cutoff = datetime.now(UTC) - timedelta(days=2)
    for _, rma, surname, comments, _, registered, purged in rows:
        if registered < cutoff:  # past the account's retention: purged by bol_retention
            assert (surname, comments, purged is not None) == (None, None, True)
            continue
        assert comments == (truth[rma]["customer_comments"] or None)
        if not truth[rma]["handled"]:  # an open return: its detail was read, with the customer's details
            assert surname == truth[rma]["customer_details"]["surname"]
    assert any(row[2] for row in rows)


def test_no_customer_data_of_returns_in_the_warehouse_or_the_archive_of_an_account_not_opted_in(
    synced: WarehouseTarget, raw_archive: Path
) -> None:
    everyone = _customer_texts(OPTED_IN[1].retailer_id) | _customer_texts(DEFAULT[1].retailer_id)
    assert any("groet van" in text for text in everyone)
    tables = {t for (t,) in query(synced, "SELECT table_name FROM information_schema.tables WHERE table_schema='bol'")}
    dump = " ".join(str(value) for table in sorted(tables) for row in query(synced, f"SELECT * FROM bol.{table}")
                    for value in row)  # fmt: skip
    assert not [text for text in everyone if text in dump]
    archived = {
        path: gzip.decompress(path.read_bytes()).decode("utf-8")
        for path in raw_archive.rglob("*.gz")
        if "bol_returns_hourly" in path.parts
    }
    out = [text for path, text in archived.items() if DEFAULT[0] in path.parts]
    opted = [text for path, text in archived.items() if OPTED_IN[0] in path.parts]
    assert out
    assert opted
    assert not [t for t in _customer_texts(DEFAULT[1].retailer_id) if any(t in text for text in out)]
    assert any(t in text for t in _customer_texts(OPTED_IN[1].retailer_id) for text in opted)  # kept: opted in


def test_retention_run_purges_contact_details_after_retention_but_keeps_invoice_data(synced: WarehouseTarget) -> None:
    rows = personal_rows(synced)
    cutoff = datetime.now(UTC) - timedelta(days=2)
    old = [row for row in rows if row[6] < cutoff]
    recent = [row for row in rows if row[6] >= cutoff]
    assert old
    assert recent
    assert all(row[7] is not None and row[2] is None and row[3] is None for row in old)  # contact purged
    assert all(row[5] for row in old)  # billing name kept for the fiscal retention
    assert all(row[7] is None and row[2] for row in recent)


def test_the_personal_store_file_and_the_lock_files_are_owner_only(synced: WarehouseTarget) -> None:
    assert synced.path is not None
    personal = personal_store_path(synced.path)
    files = [personal, personal.with_name(personal.name + ".lock"), synced.path.with_name(synced.path.name + ".lock")]
    assert {str(path): stat.S_IMODE(path.stat().st_mode) for path in files} == dict.fromkeys(map(str, files), 0o600)
