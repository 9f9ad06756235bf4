"""The PostgreSQL warehouse: DataFrames arrive by ``COPY`` into TEMP tables (psycopg 3)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from bolsync.warehouse.base import Warehouse

COPY_CHUNK = 1 << 20


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
