"""The personal store on both engines (own DuckDB file / own PostgreSQL schema), its retention and its grant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bolsync.personal.policy import TAX_RETENTION_DAYS
from bolsync.personal.records import personal_record
from bolsync.personal.settings import PersonalStoreSettings
from bolsync.personal.store import TABLE, PurgeResult, connect_personal_store, personal_store_path
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync_provider.errors import BolConfigError
from tests.support.pg_roles import as_role, temporary_role
from tests.unit.personal.test_personal_data import ORDER, SECRET

NOW = datetime(2026, 11, 27, tzinfo=UTC)
DEFAULT = PersonalStoreSettings()


def _record(order_id: str, days_old: int, **billing: Any) -> dict[str, Any]:
    order = {**ORDER, "orderId": order_id, "billingDetails": {**ORDER["billingDetails"], **billing}}
    return {**personal_record(order, SECRET), "order_placed_at": (NOW - timedelta(days=days_old)).isoformat()}


def _drop_personal_schemas(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        for schema in ("bol", "bol_personal", "pii"):
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def target(warehouse: WarehouseTarget) -> WarehouseTarget:
    """An empty warehouse on each engine, without a personal store yet."""
    if warehouse.backend == "postgres":
        _drop_personal_schemas(str(warehouse.dsn))
    return warehouse


@pytest.fixture
def pg(postgres_database: str) -> str:
    """An empty PostgreSQL warehouse database (CI=true: a missing server fails)."""
    _drop_personal_schemas(postgres_database)
    return postgres_database


def test_store_upsert_is_idempotent_and_retention_purges_on_both_engines(target: WarehouseTarget) -> None:
    fresh = _record("A2K8290LP8", 5, company='Bakker, "de" BV\nNL')
    old, ancient = _record("OLD0000001", 40), _record("ANC0000001", TAX_RETENTION_DAYS + 1)
    with connect_personal_store(target, DEFAULT) as store:
        assert store.table == (TABLE if target.backend == "duckdb" else "bol_personal.order_customers")
        assert store.upsert("1", [fresh, old, ancient, fresh], NOW) == 3
        assert store.upsert("1", [fresh, old, ancient], NOW) == 0
        assert store.upsert("2", [fresh], NOW) == 1  # the key is (retailer, order)
        result = store.purge("1", retention_days=30, now=NOW)
        assert (result.contacts_purged, result.rows_deleted) == (2, 1)
        rows = {
            r[0]: r[1:]
            for r in store.db.query(
                "SELECT order_id, shipment_surname, email_address, vat_number, billing_surname, email_pseudonym, "
                f"billing_company_name, contact_purged_at, order_placed_at FROM {store.table} WHERE retailer_id = '1'"
            )
        }
        assert set(rows) == {"A2K8290LP8", "OLD0000001"}
        assert rows["A2K8290LP8"][:2] == ("Müller", "2x5k8q@verkopen.bol.com")
        assert rows["A2K8290LP8"][5] == 'Bakker, "de" BV\nNL'
        assert rows["A2K8290LP8"][7] == NOW - timedelta(days=5)
        assert rows["OLD0000001"][:2] == (None, None)  # contact details purged
        assert rows["OLD0000001"][2:4] == ("NL123456789B01", "Müller")  # invoice data kept for the tax law
        assert rows["OLD0000001"][4] == fresh["email_pseudonym"]  # joins still work
        assert rows["OLD0000001"][6] == NOW
        second = store.purge("1", retention_days=30, now=NOW)
        assert (second.contacts_purged, second.rows_deleted) == (0, 0)
        # A purged order staged again (a rerun of an old window) is not rewritten.
        assert store.upsert("1", [old], NOW) == 0
        assert store.db.scalar(f"SELECT email_address FROM {store.table} WHERE order_id = 'OLD0000001'") is None
    with connect_warehouse(target) as warehouse:
        bol_columns = warehouse.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'bol' AND "
            "(column_name LIKE '%surname%' OR column_name LIKE '%email%')"
        )
        assert bol_columns == []
    if target.backend == "duckdb":
        assert target.path is not None
        assert personal_store_path(target.path) == target.path.with_name("warehouse.personal.duckdb")
        assert personal_store_path(target.path).exists()


def test_duckdb_store_is_its_own_file(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with connect_personal_store(warehouse) as store:
        store.upsert("1", [_record("A1", 1)], NOW)
    assert (tmp_path / "warehouse.personal.duckdb").exists()
    assert not warehouse.exists()  # the warehouse file is untouched


def test_pg_personal_schema_is_not_readable_by_a_role_that_reads_bol(pg: str) -> None:
    reader_role = temporary_role(pg, prefix="Bolsync PII-Reader ")  # a name that needs quoting
    with temporary_role(pg) as analyst, reader_role as reader, psycopg.connect(pg, autocommit=True) as admin:
        # A DBA's blanket default privilege for the analyst must not reach the personal table.
        admin.execute(f"ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {analyst}")
        admin.execute(f"ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO {analyst}")
        with connect_personal_store(pg, PersonalStoreSettings(reader_role=reader)) as store:
            store.upsert("1", [_record("A1", 1)], NOW)
        admin.execute(f"GRANT USAGE ON SCHEMA bol TO {analyst}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA bol TO {analyst}")

        assert as_role(pg, analyst, "SELECT count(*) FROM bol.orders") == [(0,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(pg, analyst, "SELECT count(*) FROM bol_personal.order_customers")
        assert as_role(pg, reader, "SELECT order_id, shipment_surname FROM bol_personal.order_customers") == [
            ("A1", "Müller")
        ]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the reader reads, nothing more
            as_role(pg, reader, "DELETE FROM bol_personal.order_customers RETURNING 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # ... and only the personal schema
            as_role(pg, reader, "SELECT count(*) FROM bol.orders")
        for grantee in ("public", analyst):
            rights = admin.execute(
                "SELECT has_schema_privilege(%s, 'bol_personal', 'USAGE'), "
                "has_table_privilege(%s, 'bol_personal.order_customers', 'SELECT')",
                [grantee, grantee],
            ).fetchone()
            assert rights == (False, False), grantee


def test_pg_grants_made_elsewhere_are_revoked_and_the_reader_follows_the_config(pg: str) -> None:
    with temporary_role(pg) as analyst, temporary_role(pg) as reader, psycopg.connect(pg, autocommit=True) as admin:
        with connect_personal_store(pg, PersonalStoreSettings(reader_role=reader)):
            pass
        admin.execute(f"GRANT USAGE ON SCHEMA bol_personal TO {analyst}, PUBLIC")
        admin.execute(f"GRANT SELECT, INSERT ON bol_personal.order_customers TO {analyst}, {reader}, PUBLIC")
        with connect_personal_store(pg, PersonalStoreSettings(reader_role=reader)):
            pass  # the next store connection (every load) restores the configured grant
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(pg, analyst, "SELECT count(*) FROM bol_personal.order_customers")
        assert as_role(pg, reader, "SELECT count(*) FROM bol_personal.order_customers") == [(0,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(
                pg,
                reader,
                "INSERT INTO bol_personal.order_customers (retailer_id, order_id, stored_at) "
                "VALUES ('1', 'X', now()) RETURNING 1",
            )
        with connect_personal_store(pg, DEFAULT):
            pass  # no reader configured any more: only the owner reads
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(pg, reader, "SELECT count(*) FROM bol_personal.order_customers")
        acl = admin.execute("SELECT relacl::text FROM pg_class WHERE oid = 'bol_personal.order_customers'::regclass")
        assert analyst not in str(acl.fetchone())


def test_pg_store_owned_by_a_plain_user_limits_its_grants_too(pg: str) -> None:
    """The usual deployment: bolsync's user is no superuser, only has CREATE on the database."""
    from urllib.parse import urlsplit

    database = urlsplit(pg).path.lstrip("/")
    with (
        temporary_role(pg, "bolsync_owner_") as owner,
        temporary_role(pg) as reader,
        temporary_role(pg) as analyst,
        psycopg.connect(pg, autocommit=True) as admin,
    ):
        admin.execute(f"ALTER ROLE {owner} LOGIN")
        admin.execute(f'GRANT CREATE ON DATABASE "{database}" TO {owner}')
        admin.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON TABLES TO {analyst}")
        admin.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT USAGE ON SCHEMAS TO {analyst}")
        as_owner = urlsplit(pg)._replace(netloc=f"{owner}@{urlsplit(pg).netloc.rsplit('@', 1)[-1]}").geturl()
        with connect_personal_store(as_owner, PersonalStoreSettings(reader_role=reader)) as store:
            assert store.db.scalar("SELECT current_user") == owner
            store.upsert("1", [_record("A1", 1)], NOW)
        assert admin.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'bol_personal' AND tablename = 'order_customers'"
        ).fetchone() == (owner,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(pg, analyst, "SELECT count(*) FROM bol_personal.order_customers")
        assert as_role(pg, reader, "SELECT count(*) FROM bol_personal.order_customers") == [(1,)]
        rights = admin.execute(
            "SELECT has_schema_privilege(%s, 'bol_personal', 'USAGE'), "
            "has_table_privilege(%s, 'bol_personal.order_customers', 'SELECT')",
            [analyst, analyst],
        ).fetchone()
        assert rights == (False, False)
        admin.execute(f"DROP OWNED BY {owner}")  # its schemas in this database, before the role goes


def test_pg_unknown_reader_role_is_a_clear_config_error(pg: str) -> None:
    opening = connect_personal_store(pg, PersonalStoreSettings(reader_role="no_such_role_x"))
    with pytest.raises(BolConfigError, match=r"role 'no_such_role_x', which does not exist.*CREATE ROLE"), opening:
        pass
    with psycopg.connect(pg, autocommit=True) as admin:  # nothing half-created
        assert admin.execute("SELECT to_regnamespace('bol_personal') IS NULL").fetchone() == (True,)


def test_pg_schema_is_configurable(pg: str) -> None:
    settings = PersonalStoreSettings.from_extra("bol_warehouse", {"personal_data_schema": "pii"})
    with connect_personal_store(pg, settings) as store:
        assert store.table == "pii.order_customers"
        assert store.upsert("1", [_record("A1", 1)], NOW) == 1
    with psycopg.connect(pg, autocommit=True) as admin:
        assert admin.execute("SELECT count(*) FROM pii.order_customers").fetchone() == (1,)
        assert admin.execute("SELECT to_regnamespace('bol_personal')").fetchone() == (None,)


def test_pg_concurrent_first_connections_create_the_store_once(pg: str) -> None:
    barrier, errors = threading.Barrier(6), []

    def connect() -> None:
        try:
            barrier.wait()
            with connect_personal_store(pg, DEFAULT) as store:
                store.upsert("1", [_record("A1", 1)], NOW)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=connect) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with psycopg.connect(pg, autocommit=True) as admin:
        assert admin.execute("SELECT count(*) FROM bol_personal.order_customers").fetchone() == (1,)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"personal_data_schema": "bol"}, "personal_data_schema"),
        ({"personal_data_schema": "public"}, "personal_data_schema"),
        ({"personal_data_schema": "pg_pii"}, "personal_data_schema"),
        ({"personal_data_schema": "Bol-PII"}, "personal_data_schema"),
        ({"personal_data_schema": "x; DROP TABLE bol.orders"}, "personal_data_schema"),
        ({"personal_data_reader_role": "PUBLIC"}, "personal_data_reader_role"),
        ({"personal_data_reader_role": ["a", "b"]}, "personal_data_reader_role"),
    ],
)
def test_bad_store_settings_are_clear_errors(extra: dict[str, Any], match: str) -> None:
    with pytest.raises(BolConfigError, match=f"connection 'bol_warehouse': extra '{match}'"):
        PersonalStoreSettings.from_extra("bol_warehouse", extra)


def test_store_settings_defaults_and_values() -> None:
    assert PersonalStoreSettings.from_extra("w", {}) == PersonalStoreSettings("bol_personal", None)
    settings = PersonalStoreSettings.from_extra(
        "w", {"personal_data_schema": "pii_2", "personal_data_reader_role": "Finance Team"}
    )
    assert (settings.table, settings.reader_role) == ("pii_2.order_customers", "Finance Team")


def test_store_records_which_connections_store_a_retailer_and_purges_by_the_retention_given(
    target: WarehouseTarget,
) -> None:
    with connect_personal_store(target, DEFAULT) as store:
        assert store.claims() == {}
        assert store.claims_recorded_since() is None
        store.upsert("legacy", [_record("L1", 3)], NOW)  # stored before connections were recorded
        store.upsert("1", [_record("A1", 3), _record("A2", 100)], NOW)
        store.record_account("1", "shop", NOW - timedelta(days=2))
        store.record_account("1", "shop", NOW)
        store.record_account("1", "shop_renamed", NOW)
        store.record_account("2", "shop2", NOW)  # no rows (yet): not a retailer of the store
        assert store.claims() == {"legacy": set(), "1": {"shop", "shop_renamed"}}
        assert store.claims_recorded_since() == NOW - timedelta(days=2)
        assert store.purge("legacy", None, NOW) == PurgeResult(0, 0)
        assert store.purge("1", 0, NOW) == PurgeResult(2, 0)  # at once: every contact detail
        rows = store.db.query(f"SELECT retailer_id, email_address, billing_surname FROM {store.table} ORDER BY 1")
    assert rows == [("1", None, "Müller"), ("1", None, "Müller"), ("legacy", "2x5k8q@verkopen.bol.com", "Müller")]
