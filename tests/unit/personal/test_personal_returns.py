"""The customer data of returns in the personal store, on both engines: one row per return item, filled as the
detail arrives, purged by the same rules as orders, never refilled once purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bolsync.personal.policy import TAX_RETENTION_DAYS
from bolsync.personal.records import return_customer_rows
from bolsync.personal.settings import PersonalStoreSettings
from bolsync.personal.store import connect_personal_store
from bolsync.warehouse.connection import WarehouseTarget
from tests.unit.returns.data import COMMENT, entry, item

NOW = datetime(2026, 11, 27, tzinfo=UTC)
SECRET = b"s" * 32


def _rows(return_id: str, days_old: int, *, detail: bool) -> list[dict]:
    body = entry(return_id, NOW - timedelta(days=days_old), items=[item(f"{return_id}-1", detail=detail)])
    return return_customer_rows(body, SECRET)


@pytest.fixture
def target(warehouse: WarehouseTarget) -> WarehouseTarget:
    if warehouse.backend == "postgres":
        with psycopg.connect(str(warehouse.dsn), autocommit=True) as admin:
            admin.execute("DROP SCHEMA IF EXISTS bol_personal CASCADE")
    return warehouse


def test_return_rows_fill_in_as_the_detail_arrives_and_purge_like_orders(target: WarehouseTarget) -> None:
    with connect_personal_store(target, PersonalStoreSettings()) as store:
        assert store.upsert_returns("1", _rows("R1", 5, detail=False), NOW) == 1  # a list entry: comments only
        assert store.upsert_returns("1", _rows("R1", 5, detail=False), NOW) == 0
        assert store.upsert_returns("1", _rows("R1", 5, detail=True), NOW) == 1  # its detail: the customer
        assert store.upsert_returns("1", _rows("R1", 5, detail=True), NOW) == 0
        store.upsert_returns(
            "1", _rows("OLD", 40, detail=True) + _rows("ANCIENT", TAX_RETENTION_DAYS + 1, detail=True), NOW
        )
        assert store.claims() == {"1": set()}  # a retailer with return rows only is claimed too
        result = store.purge("1", retention_days=30, now=NOW)
        assert (result.contacts_purged, result.rows_deleted) == (2, 1)  # the ancient one purged, then deleted
        rows = {
            row[0]: row[1:]
            for row in store.db.query(
                "SELECT rma_id, surname, customer_comments, email_pseudonym, contact_purged_at "
                f"FROM {store.returns_table}"
            )
        }
        assert set(rows) == {"R1-1", "OLD-1"}
        assert rows["R1-1"][:2] == ("Jansen", COMMENT)
        assert rows["OLD-1"][:2] == (None, None)  # contact details and comments purged
        assert rows["OLD-1"][2] == rows["R1-1"][2]  # the pseudonym stays: joins still work
        assert store.upsert_returns("1", _rows("OLD", 40, detail=True), NOW) == 0  # a purged row is never refilled
        assert store.db.query(f"SELECT surname FROM {store.returns_table} WHERE rma_id = 'OLD-1'") == [(None,)]
