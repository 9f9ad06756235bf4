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

import itertools
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "bol_warehouse"
DEFAULT_DATABASE = Path("data") / "warehouse.duckdb"
POSTGRES_TYPES = ("postgres", "postgresql")
#: libpq parameters taken from the connection's extras (everything else there is ignored).
POSTGRES_EXTRAS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
)
COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the warehouse is: a DuckDB file, or a PostgreSQL conninfo/URI."""

    backend: Literal["duckdb", "postgres"]
    path: Path | None = None
    dsn: str | None = None

    @property
    def staging_anchor(self) -> Path:
        """The file beside which staged API pages go (unless ``$BOLSYNC_STAGING_DIR`` says otherwise)."""
        return self.path if self.path is not None else DEFAULT_DATABASE.resolve()

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
        return WarehouseTarget("postgres", dsn=_postgres_dsn(conn))
    if conn.conn_type != "duckdb":
        raise ValueError(f"connection '{conn_id}' has type '{conn.conn_type}'; use duckdb or postgres.")
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    database = DuckDBHook(duckdb_conn_id=conn_id).get_database()
    if database in ("", ":memory:") or database.startswith("md:"):
        raise ValueError(f"connection '{conn_id}' must name a DuckDB file in its host field, got {database!r}.")
    return WarehouseTarget("duckdb", path=Path(database).expanduser().resolve())


def _postgres_dsn(conn: Any) -> str:
    from psycopg.conninfo import make_conninfo

    extra = conn.extra_dejson or {}
    params: dict[str, Any] = {
        "host": conn.host or "127.0.0.1",
        "port": conn.port or 5432,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.schema or "postgres",
        **{k: extra[k] for k in POSTGRES_EXTRAS if extra.get(k) not in (None, "")},
    }
    return make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


class Warehouse(ABC):
    """One open, migrated warehouse connection (see the module docstring)."""

    backend: str
    raw: Any
    _names = itertools.count(1)

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement (``?`` placeholders); the result has ``fetchone``/``fetchall``."""

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed on success, rolled back on any error."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    @abstractmethod
    def staged(self, frame: pd.DataFrame, like: str) -> Any:
        """Context manager: ``frame`` as a relation named by the yielded string, typed like table ``like``."""

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Held while migrations run (DuckDB: the file lock already is)."""
        yield

    def close(self) -> None:
        self.raw.close()

    def merge(
        self,
        table: str,
        frame: pd.DataFrame,
        key: Sequence[str],
        *,
        version: str | None = None,
        inserted_only: dict[str, str] | None = None,
    ) -> tuple[int, int]:
        """Upsert ``frame`` into ``table`` on ``key``; return (inserted, updated).

        Existing rows are updated only when a column differs and, with ``version``, only by rows at least as
        new (``frame.version >= table.version``: older data never overwrites newer). ``inserted_only`` maps
        extra columns to SQL set on insert only, e.g. ``{"first_synced_at": "now()"}``.
        """
        if frame.empty:
            return 0, 0
        columns = list(frame.columns)
        values = [c for c in columns if c not in key]
        extra = inserted_only or {}
        guard = f"excluded.{version} >= t.{version}" if version else "TRUE"
        changed = " OR ".join(f"t.{c} IS DISTINCT FROM excluded.{c}" for c in values) or "FALSE"
        with self.staged(frame, table) as incoming:
            insert = (
                f"INSERT INTO {table} AS t ({', '.join([*columns, *extra])}) "
                f"SELECT {', '.join([*columns, *extra.values()])} FROM {incoming} "
                + self._merge_order(key)
                + f" ON CONFLICT ({', '.join(key)}) DO "
                + (
                    f"UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in values)} WHERE ({guard}) AND ({changed})"
                    if values
                    else "NOTHING"
                )
            )
            return self._merge_counted(insert, incoming, table, key, guard, changed)

    def _merge_order(self, key: Sequence[str]) -> str:
        return ""

    @abstractmethod
    def _merge_counted(
        self, insert: str, incoming: str, table: str, key: Sequence[str], guard: str, changed: str
    ) -> tuple[int, int]: ...


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __getattr__(self, name: str) -> Any:
        # Everything else of DuckDB's connection (register, sql, ...) for DuckDB-only code.
        return getattr(self.raw, name)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.raw.execute(sql, list(params) if params is not None else None)

    @contextmanager
    def staged(self, frame: pd.DataFrame, like: str) -> Iterator[str]:
        name = f"incoming_{next(self._names)}"
        self.raw.register(name, frame)
        try:
            yield name
        finally:
            self.raw.unregister(name)

    def _merge_counted(
        self, insert: str, incoming: str, table: str, key: Sequence[str], guard: str, changed: str
    ) -> tuple[int, int]:
        on = " AND ".join(f"t.{k} = excluded.{k}" for k in key)
        inserted, updated = self.execute(
            f"""SELECT count(*) FILTER (WHERE t.{key[0]} IS NULL),
                       count(*) FILTER (WHERE t.{key[0]} IS NOT NULL AND ({guard}) AND ({changed}))
                FROM {incoming} AS excluded LEFT JOIN {table} AS t ON {on}"""
        ).fetchone() or (0, 0)
        self.execute(insert)
        return int(inserted), int(updated)


class PostgresWarehouse(Warehouse):
    backend = "postgres"
    MIGRATION_LOCK = 0x626F6C73796E63  # "bolsync"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if params is None:
            return self.raw.execute(sql)
        return self.raw.execute(_pyformat(sql), list(params))

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        self.execute("SELECT pg_advisory_lock(?)", [self.MIGRATION_LOCK])
        try:
            yield
        finally:
            self.execute("SELECT pg_advisory_unlock(?)", [self.MIGRATION_LOCK])

    @contextmanager
    def staged(self, frame: pd.DataFrame, like: str) -> Iterator[str]:
        """``COPY`` the frame (encoded to CSV by an in-memory DuckDB) into a TEMP table typed like ``like``."""
        from psycopg.pq import TransactionStatus

        name = f"incoming_{next(self._names)}"
        columns = ", ".join(frame.columns)
        self.execute(f"CREATE TEMP TABLE {name} AS SELECT {columns} FROM {like} WITH NO DATA")
        try:
            sql = f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)"
            with _csv_file(frame) as path, open(path, "rb") as source, self.raw.cursor().copy(sql) as copy:
                while chunk := source.read(COPY_CHUNK):
                    copy.write(chunk)
            yield name
        finally:
            if self.raw.info.transaction_status != TransactionStatus.INERROR:
                self.execute(f"DROP TABLE IF EXISTS {name}")

    def _merge_order(self, key: Sequence[str]) -> str:
        # Rows locked in key order: two concurrent merges of overlapping keys cannot deadlock.
        return f"ORDER BY {', '.join(key)}"

    def _merge_counted(
        self, insert: str, incoming: str, table: str, key: Sequence[str], guard: str, changed: str
    ) -> tuple[int, int]:
        row = self.execute(
            f"WITH merged AS ({insert} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


def _pyformat(sql: str) -> str:
    """``?`` placeholders (outside quotes) to psycopg's ``%s``; literal ``%`` doubled."""
    out, quote = [], ""
    for char in sql:
        if quote:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        else:
            out.append("%%" if char == "%" else char)
    return "".join(out)


@contextmanager
def _csv_file(frame: pd.DataFrame) -> Iterator[str]:
    """The frame as headerless CSV (NULL = empty, '' = ""), UTC timestamps; DuckDB writes it in parallel."""
    import duckdb

    handle, path = tempfile.mkstemp(prefix="bolsync-copy-", suffix=".csv")
    os.close(handle)
    encoder = duckdb.connect()
    try:
        encoder.execute("SET TimeZone = 'UTC'")
        encoder.register("frame", frame)
        encoder.execute(f"COPY (SELECT * FROM frame) TO '{path}' (FORMAT CSV, HEADER false)")
        encoder.close()
        yield path
    finally:
        encoder.close()
        os.unlink(path)


@contextmanager
def connect_warehouse(where: WarehouseTarget | Path | str) -> Iterator[Warehouse]:
    """An open, migrated warehouse connection; closed on exit. DuckDB connections are exclusive."""
    from bolsync.warehouse.migrations import migrate

    target = as_target(where)
    if target.backend == "duckdb":
        from bolsync.warehouse.duckdb_connection import open_duckdb

        assert target.path is not None
        with open_duckdb(target.path) as raw:
            warehouse: Warehouse = DuckDBWarehouse(raw)
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
    """Every row of ``table`` without the ``exclude`` columns, sorted by all columns (both engines)."""
    skip = set(exclude)
    columns = [c for c in table_columns(warehouse, table) if c not in skip]
    order = ", ".join(str(n) for n in range(1, len(columns) + 1))
    return warehouse.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
