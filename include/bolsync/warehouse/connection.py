"""The warehouse behind the ``bol_warehouse`` connection: DuckDB (a file) or PostgreSQL.

``connect_warehouse(target)`` yields a :class:`Warehouse`, the few operations the pipeline needs on either
engine: ``execute``/``query`` with ``?`` parameters, ``transaction()``, ``staged(frame)`` (a DataFrame as a
relation SQL can join: a registered view in DuckDB, a ``COPY``-filled TEMP table in PostgreSQL) and
``merge`` (bulk upsert with a key and an optional "newer wins" guard). Every connection is migrated first.

DuckDB: one writing process per file, guarded by ``flock`` on ``<file>.lock`` (see ``duckdb_connection``).
PostgreSQL: psycopg 3 on the connection's host/port/login/password/schema (= database) and extras; the
session runs in UTC; concurrency is PostgreSQL's own (row locks, ``ON CONFLICT``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from bolsync.runs.config import duckdb_memory_limit
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.duckdb_warehouse import DuckDBWarehouse
from bolsync.warehouse.extras import POSTGRES_OPTIONS, warehouse_extras
from bolsync.warehouse.postgres_warehouse import PostgresWarehouse
from bolsync_provider.errors import BolConfigError

__all__ = ["DuckDBWarehouse", "PostgresWarehouse", "Warehouse", "WarehouseTarget", "as_target", "connect_warehouse"]

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "bol_warehouse"
DEFAULT_DATABASE = Path("data") / "warehouse.duckdb"
POSTGRES_TYPES = ("postgres", "postgresql")


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the warehouse is: a DuckDB file, or a PostgreSQL conninfo/URI."""

    backend: Literal["duckdb", "postgres"]
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)  # holds the password

    @property
    def staging_anchor(self) -> Path:
        """The file beside which staged API pages go (unless ``$BOLSYNC_STAGING_DIR`` says otherwise)."""
        return self.path if self.path is not None else DEFAULT_DATABASE.resolve()

    def __repr__(self) -> str:
        return f"WarehouseTarget({self.backend}: {self})"

    def __str__(self) -> str:
        if self.backend == "duckdb":
            return str(self.path)
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(self.dsn or "")
        user, host, port = parts.get("user", ""), parts.get("host", ""), parts.get("port", 5432)
        return f"postgresql://{user}@{host}:{port}/{parts.get('dbname', '')}"


def as_target(where: WarehouseTarget | Path | str) -> WarehouseTarget:
    """A target from a target, a DuckDB path, or a ``postgresql://`` URI."""
    if isinstance(where, WarehouseTarget):
        return where
    text = str(where)
    if text.startswith(("postgresql://", "postgres://")):
        return WarehouseTarget("postgres", dsn=text)
    return WarehouseTarget("duckdb", path=Path(text).expanduser().resolve())


def warehouse_target(conn_id: str = WAREHOUSE_CONN_ID) -> WarehouseTarget:
    """The warehouse of the ``bol_warehouse`` connection (type ``duckdb`` or ``postgres``).

    No connection: ``data/warehouse.duckdb`` under the working directory.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("No connection '%s'; using %s.", conn_id, DEFAULT_DATABASE.resolve())
        return WarehouseTarget("duckdb", path=DEFAULT_DATABASE.resolve())
    if conn.conn_type in POSTGRES_TYPES:
        return WarehouseTarget("postgres", dsn=_postgres_dsn(conn_id, conn))
    if conn.conn_type != "duckdb":
        raise BolConfigError(f"connection '{conn_id}' has type '{conn.conn_type}'; use duckdb or postgres.")
    warehouse_extras(conn_id, conn.extra, "duckdb")
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    database = DuckDBHook(duckdb_conn_id=conn_id).get_database()
    if database in ("", ":memory:") or database.startswith("md:"):
        raise BolConfigError(f"connection '{conn_id}' must name a DuckDB file in its host field, got {database!r}.")
    return WarehouseTarget("duckdb", path=Path(database).expanduser().resolve())


def _postgres_dsn(conn_id: str, conn: Any) -> str:
    from psycopg.conninfo import make_conninfo

    extra = warehouse_extras(conn_id, conn.extra, "postgres")
    params: dict[str, Any] = {
        "host": conn.host or "127.0.0.1",
        "port": conn.port or 5432,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.schema or "postgres",
        **{k: extra[k] for k in POSTGRES_OPTIONS if extra.get(k) not in (None, "")},
    }
    return make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


@contextmanager
def connect_warehouse(
    where: WarehouseTarget | Path | str, *, lock_timeout: timedelta | None = None
) -> Iterator[Warehouse]:
    """An open, migrated warehouse connection; closed on exit. DuckDB connections are exclusive:
    ``lock_timeout`` bounds the wait for another process's (default ``duckdb_connection.LOCK_TIMEOUT``)."""
    from bolsync.warehouse.migrations import migrate

    target = as_target(where)
    if target.backend == "duckdb":
        from bolsync.warehouse.duckdb_connection import open_duckdb

        assert target.path is not None
        _check_duckdb_file_name(target.path)
        with open_duckdb(target.path, lock_timeout=lock_timeout) as raw:
            warehouse: Warehouse = DuckDBWarehouse(raw, memory_limit=duckdb_memory_limit())
            migrate(warehouse)
            yield warehouse
        return
    import psycopg

    pg = psycopg.connect(target.dsn or "", autocommit=True, connect_timeout=30)
    try:
        pg.execute("SET TIME ZONE 'UTC'")
        warehouse = PostgresWarehouse(pg)
        migrate(warehouse)
        yield warehouse
    finally:
        pg.close()


#: Schemas bolsync uses in a DuckDB file; a file named like one (``bol.duckdb``) becomes a catalog of that
#: name, and DuckDB would read ``bol.orders`` as table ``orders`` of that catalog's default schema.
DUCKDB_RESERVED_STEMS = ("bol", "personal")


def _check_duckdb_file_name(path: Path) -> None:
    if path.stem.lower() in DUCKDB_RESERVED_STEMS:
        raise BolConfigError(
            f"DuckDB warehouse file {path}: a file named '{path.stem}' shadows bolsync's schema '{path.stem}' "
            f"(DuckDB names the database after the file); rename it, e.g. to {path.with_stem('warehouse').name}."
        )


def table_columns(warehouse: Warehouse, table: str) -> list[str]:
    """A table's columns in their order (``schema.table``)."""
    schema, name = table.split(".", 1)
    rows = warehouse.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, name],
    )
    return [row[0] for row in rows]


def select_all(warehouse: Warehouse, table: str, exclude: Iterable[str] = ()) -> list[tuple[Any, ...]]:
    """Every row of ``table`` without the ``exclude`` columns, sorted by all columns (both engines); JSON columns
    as their text (PostgreSQL can neither sort nor compare ``json``)."""
    skip = set(exclude)
    schema, name = table.split(".", 1)
    typed = warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, name],
    )
    columns = [
        f"CAST({c} AS VARCHAR) AS {c}" if str(kind).lower() == "json" else c for c, kind in typed if c not in skip
    ]
    order = ", ".join(str(n) for n in range(1, len(columns) + 1))
    return warehouse.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
