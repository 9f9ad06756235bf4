"""The personal store, never the warehouse's ``bol`` tables: tables ``order_customers`` (one row per order) and
``return_customers`` (one row per return item) where the warehouse is.

DuckDB: its own owner-only file beside the warehouse (``warehouse.personal.duckdb``, schema ``personal``).
PostgreSQL: its own schema of the warehouse database (``bol_personal`` unless configured, see ``settings``)
that only the configured reader role may read (see ``postgres``). Upsert and purge are the same SQL on both.

Rows are inserted by the orders and returns loads of opted-in accounts, which also record in ``retailer_accounts``
that they store the retailer's rows; :meth:`PersonalStore.purge` (DAG ``bol_retention``, every retailer in the store,
see ``retention``) clears contact details after the retention period and deletes rows after the fiscal retention,
in both tables by the same rule (a return's age is its registration, an order's its placement).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from bolsync.personal.policy import TAX_RETENTION_DAYS
from bolsync.personal.records import CONTACT_COLUMNS, INVOICE_COLUMNS, RETURN_CONTACT_COLUMNS
from bolsync.personal.settings import ACCOUNTS_TABLE_NAME, RETURNS_TABLE_NAME, TABLE_NAME, PersonalStoreSettings
from bolsync.warehouse.connection import Warehouse, WarehouseTarget, as_target

log = logging.getLogger(__name__)

#: The schema and tables in the DuckDB personal file.
SCHEMA = "personal"
TABLE = f"{SCHEMA}.{TABLE_NAME}"
ACCOUNTS_TABLE = f"{SCHEMA}.{ACCOUNTS_TABLE_NAME}"
RETURNS_TABLE = f"{SCHEMA}.{RETURNS_TABLE_NAME}"
COLUMNS = ("retailer_id", "order_id", "email_pseudonym", *CONTACT_COLUMNS, *INVOICE_COLUMNS)
RETURN_COLUMNS = ("retailer_id", "rma_id", "return_id", "email_pseudonym", *RETURN_CONTACT_COLUMNS)
_AGE = "coalesce(order_placed_at, stored_at)"
_RETURN_AGE = "coalesce(registered_at, stored_at)"


def table_ddl(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the personal table (both engines)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "retailer_id VARCHAR NOT NULL, order_id VARCHAR NOT NULL, email_pseudonym VARCHAR, "
        + ", ".join(f"{column} VARCHAR" for column in (*CONTACT_COLUMNS, *INVOICE_COLUMNS))
        + ", order_placed_at TIMESTAMPTZ, stored_at TIMESTAMPTZ NOT NULL, contact_purged_at TIMESTAMPTZ, "
        "PRIMARY KEY (retailer_id, order_id))"
    )


def returns_table_ddl(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the personal table of return items (both engines)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "retailer_id VARCHAR NOT NULL, rma_id VARCHAR NOT NULL, return_id VARCHAR NOT NULL, email_pseudonym VARCHAR, "
        + ", ".join(f"{column} VARCHAR" for column in RETURN_CONTACT_COLUMNS)
        + ", registered_at TIMESTAMPTZ, stored_at TIMESTAMPTZ NOT NULL, contact_purged_at TIMESTAMPTZ, "
        "PRIMARY KEY (retailer_id, rma_id))"
    )


def accounts_ddl(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the table of which connections store which retailer (both engines)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (retailer_id VARCHAR NOT NULL, conn_id VARCHAR NOT NULL, "
        "first_stored_at TIMESTAMPTZ NOT NULL, last_stored_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (retailer_id, conn_id))"
    )


@dataclass(frozen=True)
class PurgeResult:
    contacts_purged: int
    rows_deleted: int


@dataclass(frozen=True)
class PersonalStore:
    """An open personal store: ``table`` (orders), ``returns_table`` and ``accounts_table`` on the connection
    ``db``."""

    db: Warehouse
    table: str
    accounts_table: str
    returns_table: str

    def upsert(self, retailer_id: str, records: Iterable[Mapping[str, Any]], now: datetime) -> int:
        """Insert rows for orders not stored yet (a stored or purged order is never rewritten); return how many."""
        frame = _frame(retailer_id, records, now)
        if frame.empty:
            return 0
        columns = ", ".join(frame.columns)
        with self.db.transaction(), self.db.staged(frame, self.table) as incoming:
            inserted = self.db.query(
                f"INSERT INTO {self.table} ({columns}) SELECT {columns} FROM {incoming} ORDER BY order_id "
                "ON CONFLICT (retailer_id, order_id) DO NOTHING RETURNING order_id"
            )
        return len(inserted)

    def upsert_returns(self, retailer_id: str, records: Iterable[Mapping[str, Any]], now: datetime) -> int:
        """Insert rows for return items not stored yet and fill what a stored row lacks (the customer's details
        arrive with a return's detail, its comments with every list entry); a purged row is never refilled.
        Returns how many rows were inserted or filled."""
        frame = _returns_frame(retailer_id, records, now)
        if frame.empty:
            return 0
        columns = ", ".join(frame.columns)
        fill = ["email_pseudonym", *RETURN_CONTACT_COLUMNS, "registered_at"]
        lacking = " OR ".join(f"(t.{c} IS NULL AND excluded.{c} IS NOT NULL)" for c in fill)
        key = "t.retailer_id = excluded.retailer_id AND t.rma_id = excluded.rma_id"
        sets = ", ".join(f"{c} = coalesce(t.{c}, excluded.{c})" for c in fill)
        with self.db.transaction(), self.db.staged(frame, self.returns_table) as incoming:
            filled = self.db.query(
                f"UPDATE {self.returns_table} AS t SET {sets} "
                f"FROM {incoming} AS excluded WHERE {key} AND t.contact_purged_at IS NULL AND ({lacking}) "
                "RETURNING t.rma_id"
            )
            inserted = self.db.query(
                f"INSERT INTO {self.returns_table} ({columns}) SELECT {columns} FROM {incoming} AS excluded "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self.returns_table} AS t WHERE {key}) ORDER BY rma_id "
                "ON CONFLICT (retailer_id, rma_id) DO NOTHING RETURNING rma_id"
            )
        return len(filled) + len(inserted)

    def record_account(self, retailer_id: str, conn_id: str, now: datetime) -> None:
        """Record that the connection ``conn_id`` stores the personal data of ``retailer_id``."""
        self.db.execute(
            f"INSERT INTO {self.accounts_table} (retailer_id, conn_id, first_stored_at, last_stored_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (retailer_id, conn_id) DO UPDATE SET last_stored_at = ?",
            [retailer_id, conn_id, now, now, now],
        )

    def claims(self) -> dict[str, set[str]]:
        """Every retailer with rows in the store, and the connections recorded as storing them (maybe none)."""
        claims: dict[str, set[str]] = {}
        for retailer_id, conn_id in self.db.query(
            f"SELECT DISTINCT c.retailer_id, a.conn_id FROM (SELECT retailer_id FROM {self.table} UNION "
            f"SELECT retailer_id FROM {self.returns_table}) c "
            f"LEFT JOIN {self.accounts_table} a ON a.retailer_id = c.retailer_id"
        ):
            claims.setdefault(retailer_id, set()).update([conn_id] if conn_id else [])
        return claims

    def claims_recorded_since(self) -> datetime | None:
        """When the first connection was recorded as storing a retailer (None: never)."""
        first = self.db.scalar(f"SELECT min(first_stored_at) FROM {self.accounts_table}")
        return None if first is None else pd.Timestamp(first).tz_convert(UTC).to_pydatetime()

    def purge(self, retailer_id: str, retention_days: int | None, now: datetime) -> PurgeResult:
        """Clear contact details older than ``retention_days`` (0: all of them; None: none); delete rows past the
        fiscal retention. Orders and return items alike (the counts are of both)."""
        purged: list[Any] = []
        deleted: list[Any] = []
        with self.db.transaction():
            for table, contacts, age in (
                (self.table, CONTACT_COLUMNS, _AGE),
                (self.returns_table, RETURN_CONTACT_COLUMNS, _RETURN_AGE),
            ):
                clear = ", ".join(f"{column} = NULL" for column in contacts)
                if retention_days is not None:
                    purged += self.db.query(
                        f"UPDATE {table} SET {clear}, contact_purged_at = ? "
                        f"WHERE retailer_id = ? AND contact_purged_at IS NULL AND {age} < ? RETURNING retailer_id",
                        [now, retailer_id, now - timedelta(days=retention_days)],
                    )
                deleted += self.db.query(
                    f"DELETE FROM {table} WHERE retailer_id = ? AND {age} < ? RETURNING retailer_id",
                    [retailer_id, now - timedelta(days=TAX_RETENTION_DAYS)],
                )
        if purged or deleted:
            log.info(
                "Personal data of retailer %s in %s: contact details purged on %d orders and return items (%s), "
                "%d rows past the %d-day fiscal retention deleted.",
                retailer_id,
                self.table,
                len(purged),
                "no account stores it any more" if retention_days == 0 else f"older than {retention_days} days",
                len(deleted),
                TAX_RETENTION_DAYS,
            )
        return PurgeResult(len(purged), len(deleted))


def _frame(retailer_id: str, records: Iterable[Mapping[str, Any]], now: datetime) -> pd.DataFrame:
    """One row per order (the first record of an order wins), text as text, timestamps in UTC."""
    rows: dict[str, list[Any]] = {}
    for record in records:
        order_id = str(record.get("order_id"))
        if order_id not in rows:
            values = [retailer_id, order_id, *(record.get(c) for c in COLUMNS[2:])]
            rows[order_id] = [None if v is None else str(v) for v in values] + [record.get("order_placed_at")]
    frame = pd.DataFrame(list(rows.values()), columns=[*COLUMNS, "order_placed_at"], dtype=object)
    frame["order_placed_at"] = pd.to_datetime(frame["order_placed_at"], utc=True, format="ISO8601")
    frame["stored_at"] = pd.Timestamp(now).tz_convert(UTC)  # ``now`` is timezone-aware
    return frame


def _returns_frame(retailer_id: str, records: Iterable[Mapping[str, Any]], now: datetime) -> pd.DataFrame:
    """One row per return item: the first record's values, each column filled from later records that have it."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        rma_id = str(record.get("rma_id"))
        row = rows.setdefault(rma_id, {"retailer_id": retailer_id, "rma_id": rma_id})
        for column in (*RETURN_COLUMNS[2:], "registered_at"):
            if row.get(column) is None and record.get(column) is not None:
                row[column] = record[column] if column == "registered_at" else str(record[column])
    columns = [*RETURN_COLUMNS, "registered_at"]
    frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows.values()], columns=columns, dtype=object)
    frame["registered_at"] = pd.to_datetime(frame["registered_at"], utc=True, format="ISO8601")
    frame["stored_at"] = pd.Timestamp(now).tz_convert(UTC)
    return frame


def personal_store_path(warehouse_file: Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.personal.duckdb`` in the same folder."""
    return warehouse_file.with_name(f"{warehouse_file.stem}.personal{warehouse_file.suffix or '.duckdb'}")


@contextmanager
def connect_personal_store(
    where: WarehouseTarget | Path | str, settings: PersonalStoreSettings | None = None
) -> Iterator[PersonalStore]:
    """The personal store of the warehouse ``where`` (created on first use); closed on exit.

    ``settings`` (PostgreSQL only) default to the ``bol_warehouse`` connection's extras.
    """
    with _personal_store(where, settings, create=True) as store:
        assert store is not None
        yield store


@contextmanager
def existing_personal_store(
    where: WarehouseTarget | Path | str, settings: PersonalStoreSettings | None = None
) -> Iterator[PersonalStore | None]:
    """As :func:`connect_personal_store`, but None (and nothing created) when the store was never created."""
    with _personal_store(where, settings, create=False) as store:
        yield store


@contextmanager
def _personal_store(
    where: WarehouseTarget | Path | str, settings: PersonalStoreSettings | None, *, create: bool
) -> Iterator[PersonalStore | None]:
    target = as_target(where)
    if target.backend == "duckdb":
        from bolsync.warehouse.connection import DuckDBWarehouse
        from bolsync.warehouse.duckdb_connection import open_duckdb

        path = personal_store_path(target.staging_anchor)
        if not create and not path.exists():
            yield None
            return
        with open_duckdb(path, private=True) as raw:
            db = DuckDBWarehouse(raw)
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            db.execute(table_ddl(TABLE))
            db.execute(accounts_ddl(ACCOUNTS_TABLE))
            db.execute(returns_table_ddl(RETURNS_TABLE))
            yield PersonalStore(db, TABLE, ACCOUNTS_TABLE, RETURNS_TABLE)
        return
    from bolsync.personal.postgres import prepare_postgres_store
    from bolsync.personal.settings import store_settings
    from bolsync.warehouse.connection import connect_warehouse

    settings = settings or store_settings()
    with connect_warehouse(target) as warehouse:
        if not create and warehouse.scalar("SELECT to_regclass(?) IS NULL", [settings.table]):
            yield None
            return
        ddl = {settings.table: table_ddl(settings.table)}
        ddl[settings.accounts_table] = accounts_ddl(settings.accounts_table)
        ddl[settings.returns_table] = returns_table_ddl(settings.returns_table)
        prepare_postgres_store(warehouse, settings, ddl)
        yield PersonalStore(warehouse, settings.table, settings.accounts_table, settings.returns_table)
