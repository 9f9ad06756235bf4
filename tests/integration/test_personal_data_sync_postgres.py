"""Personal data through the DAG with a PostgreSQL warehouse: every test of ``test_personal_data_sync``, plus
the rows land in schema ``bol_personal``, which only the configured reader role (not a reader of ``bol``)
may read, and no DuckDB personal file appears (CI=true: a missing server fails the run)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bolsync.personal.store import personal_store_path
from bolsync.warehouse.connection import DEFAULT_DATABASE, WarehouseTarget, as_target
from tests.integration import test_personal_data_sync as same
from tests.support.airflow_env import query, warehouse_connection
from tests.support.pg_roles import as_role, temporary_role
from tests.support.services import postgres_url
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

synced = same.synced
raw_archive = same.raw_archive
test_return_customers_land_for_the_opted_in_account_only = same.test_return_customers_land_for_the_opted_in_account_only
test_no_customer_data_of_returns_in_the_warehouse_or_the_archive_of_an_account_not_opted_in = (
    same.test_no_customer_data_of_returns_in_the_warehouse_or_the_archive_of_an_account_not_opted_in
)
test_only_the_opted_in_account_has_personal_rows = same.test_only_the_opted_in_account_has_personal_rows
test_the_warehouse_tables_hold_no_personal_data = same.test_the_warehouse_tables_hold_no_personal_data
test_retention_run_purges_contact_details_after_retention_but_keeps_invoice_data = (
    same.test_retention_run_purges_contact_details_after_retention_but_keeps_invoice_data
)
DUCKDB_PERSONAL_FILE = personal_store_path(DEFAULT_DATABASE.resolve())


_PERSONAL_FILE_BEFORE: dict[str, int | None] = {}


def _personal_file_stamp() -> int | None:
    return DUCKDB_PERSONAL_FILE.stat().st_mtime_ns if DUCKDB_PERSONAL_FILE.exists() else None


@pytest.fixture(scope="module")
def reader() -> Iterator[str]:
    """The role the ``bol_warehouse`` connection names in ``personal_data_reader_role``."""
    with temporary_role(postgres_url(), "bolsync_pii_reader_") as role:
        yield role


@pytest.fixture(scope="module")
def personal_warehouse(reader: str) -> Iterator[WarehouseTarget]:
    _PERSONAL_FILE_BEFORE["stamp"] = _personal_file_stamp()
    with temporary_postgres_database("bolsync_pii_it") as url:
        warehouse_connection(url, personal_data_reader_role=reader)
        yield as_target(url)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {reader}")  # its grants in this database, before the role goes


def test_personal_rows_land_in_their_own_schema(synced: WarehouseTarget) -> None:
    tables = query(
        synced,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name LIKE '%customer%'",
    )
    assert sorted(tables) == [("bol_personal", "order_customers"), ("bol_personal", "return_customers")]
    assert query(synced, "SELECT count(*) > 0 FROM bol_personal.order_customers") == [(True,)]


def test_only_the_configured_role_reads_the_personal_schema(synced: WarehouseTarget, reader: str) -> None:
    url = str(synced.dsn)
    with temporary_role(url, "bolsync_analyst_") as analyst, psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"GRANT USAGE ON SCHEMA bol TO {analyst}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA bol TO {analyst}")
        assert as_role(url, analyst, "SELECT count(*) > 0 FROM bol.orders") == [(True,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(url, analyst, "SELECT count(*) FROM bol_personal.order_customers")
    assert as_role(url, reader, "SELECT count(*) > 0 FROM bol_personal.order_customers") == [(True,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(url, reader, "UPDATE bol_personal.order_customers SET email_address = NULL")


def test_no_duckdb_personal_file_is_written(synced: WarehouseTarget) -> None:
    assert _personal_file_stamp() == _PERSONAL_FILE_BEFORE["stamp"]
