"""The personal store: its own DuckDB file beside the warehouse, never the warehouse tables.

Rows are upserted by the orders load of opted-in accounts; :func:`purge` (the nightly run) clears
contact details after the account's retention period and deletes rows after the fiscal retention.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from bolsync.personal.policy import TAX_RETENTION_DAYS
from bolsync.personal.records import CONTACT_COLUMNS, INVOICE_COLUMNS

log = logging.getLogger(__name__)

SCHEMA = "personal"
TABLE = f"{SCHEMA}.order_customers"
COLUMNS = ("retailer_id", "order_id", "email_pseudonym", *CONTACT_COLUMNS, *INVOICE_COLUMNS)
DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "retailer_id VARCHAR NOT NULL, order_id VARCHAR NOT NULL, email_pseudonym VARCHAR, "
    + ", ".join(f"{column} VARCHAR" for column in (*CONTACT_COLUMNS, *INVOICE_COLUMNS))
    + ", order_placed_at TIMESTAMPTZ, stored_at TIMESTAMPTZ NOT NULL, contact_purged_at TIMESTAMPTZ, "
    "PRIMARY KEY (retailer_id, order_id))",
)


@dataclass(frozen=True)
class PurgeResult:
    contacts_purged: int
    rows_deleted: int


def personal_store_path(warehouse_file: Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.personal.duckdb`` in the same folder."""
    return warehouse_file.with_name(f"{warehouse_file.stem}.personal{warehouse_file.suffix or '.duckdb'}")


@contextmanager
def connect_personal_store(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An exclusive connection to the personal store file (created on first use)."""
    from bolsync.warehouse.duckdb_connection import _file_lock, _open

    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path):
        conn = _open(path)
        try:
            for statement in DDL:
                conn.execute(statement)
            yield conn
        finally:
            conn.close()


def upsert(conn: Any, retailer_id: str, records: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Insert rows for orders not stored yet (a stored or purged order is never rewritten)."""
    placeholders = ", ".join(["?"] * (len(COLUMNS) + 2))
    rows = [
        [retailer_id if c == "retailer_id" else record.get(c) for c in COLUMNS] + [record.get("order_placed_at"), now]
        for record in records
    ]
    if not rows:
        return 0
    before = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE retailer_id = ?", [retailer_id]).fetchone()[0]
    conn.executemany(
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, order_placed_at, stored_at) VALUES ({placeholders}) "
        "ON CONFLICT (retailer_id, order_id) DO NOTHING",
        rows,
    )
    after = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE retailer_id = ?", [retailer_id]).fetchone()[0]
    return int(after - before)


def purge(conn: Any, retailer_id: str, retention_days: int, now: datetime) -> PurgeResult:
    """Clear contact details older than ``retention_days``; delete rows past the fiscal retention."""
    age = "coalesce(order_placed_at, stored_at)"
    contact_cutoff = now - timedelta(days=retention_days)
    tax_cutoff = now - timedelta(days=TAX_RETENTION_DAYS)
    clear = ", ".join(f"{column} = NULL" for column in CONTACT_COLUMNS)
    due = conn.execute(
        f"SELECT count(*) FROM {TABLE} WHERE retailer_id = ? AND contact_purged_at IS NULL AND {age} < ?",
        [retailer_id, contact_cutoff],
    ).fetchone()[0]
    conn.execute(
        f"UPDATE {TABLE} SET {clear}, contact_purged_at = ? "
        f"WHERE retailer_id = ? AND contact_purged_at IS NULL AND {age} < ?",
        [now, retailer_id, contact_cutoff],
    )
    old = conn.execute(
        f"SELECT count(*) FROM {TABLE} WHERE retailer_id = ? AND {age} < ?", [retailer_id, tax_cutoff]
    ).fetchone()[0]
    conn.execute(f"DELETE FROM {TABLE} WHERE retailer_id = ? AND {age} < ?", [retailer_id, tax_cutoff])
    if due or old:
        log.info(
            "Personal data of retailer %s: contact details purged on %d orders (older than %d days), %d rows past "
            "the %d-day fiscal retention deleted.",
            retailer_id,
            due,
            retention_days,
            old,
            TAX_RETENTION_DAYS,
        )
    return PurgeResult(int(due), int(old))


def utc_now() -> datetime:
    return datetime.now(UTC)
