"""The PostgreSQL warehouse: DataFrames arrive by ``COPY`` (psycopg 3), binary where every column encodes
exactly (``pg_arrow``: Arrow, encoded by pgpq), else as CSV slices encoded by an in-memory DuckDB; slices are
encoded on a worker thread while the previous one streams.

A frame whose keys are all new goes straight into its table (``insert_new``: one write, in a savepoint that
gives way to the merge). Otherwise it is staged in a TEMP table and ``_merge_relation`` runs one key-ordered
``INSERT ... ON CONFLICT DO UPDATE``; for a large relation a sample decides whether its new keys go in first
with a plain anti-join ``INSERT`` (an ``ON CONFLICT`` insert costs about twice as much per row) and whether
rows that would not change are left out of the ``ON CONFLICT`` (which locks, and so writes, every row it
meets). Only transaction-local settings are changed, never the server's configuration."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.pg_arrow import HEADER, TRAILER, binary_encoder

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
#: SQL that names a column of a merge (``t.`` stored, ``excluded.`` incoming): not a constant.
_COLUMN_REFERENCE = re.compile(r"\b(?:t|excluded)\.", re.IGNORECASE)
#: Rows per CSV slice: the first slice streams while the next ones are encoded.
COPY_SLICE_ROWS = 50_000
#: Binary slices encoded ahead of the one streaming.
BINARY_AHEAD = 2


class PostgresWarehouse(Warehouse):
    backend = "postgres"
    MIGRATION_LOCK = 0x626F6C73796E63  # "bolsync"
    #: Relations of at least this many rows are merged as a sample of them suggests (see ``_merge_relation``):
    #: new keys first with a plain ``INSERT`` from ``NEW_SHARE`` new, rows that would not change skipped from
    #: ``UNCHANGED_SHARE``.
    BULK_ROWS = 10_000
    NEW_SHARE = 0.75
    UNCHANGED_SHARE = 0.5
    #: ``work_mem`` of a merge whose key joins hash (see ``_join_settings``), transaction-local.
    MERGE_WORK_MEM = "128MB"
    #: Rows sampled from a large relation.
    SAMPLE_ROWS = 4_000
    #: Keys of a frame probed before it is copied straight into its table (see ``insert_new``).
    PROBE_KEYS = 512
    stages_in_transaction = True

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._staged_rows: dict[str, int] = {}
        self._primary_keys: dict[str, list[str]] = {}

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
        """``COPY`` the frame into a TEMP table typed like ``like`` (see :meth:`_copy`).

        The TEMP table must not be written to afterwards: ``_merge_relation`` relies on its row count.
        """
        from psycopg.pq import TransactionStatus

        name = f"incoming_{next(self._names)}"
        self.execute(f"CREATE TEMP TABLE {name} AS SELECT {', '.join(frame.columns)} FROM {like} WITH NO DATA")
        try:
            self._copy(name, frame, self._primary_key(like))
            self._staged_rows[name] = len(frame)
            yield name
        finally:
            self._staged_rows.pop(name, None)
            if self.raw.info.transaction_status != TransactionStatus.INERROR:
                self.execute(f"DROP TABLE IF EXISTS {name}")

    def _copy(self, table: str, frame: pd.DataFrame, key: Sequence[str]) -> None:
        """``COPY`` the frame into ``table``: binary when every column encodes exactly (see ``pg_arrow``),
        else CSV slices encoded by an in-memory DuckDB.

        Rows go in the order of ``key`` when the frame has its columns: inserted in key order, they cost a
        key index a quarter less, and concurrent writers meet the keys in the same order.
        """
        columns = ", ".join(frame.columns)
        order = list(key) if key and set(key) <= set(frame.columns) else []
        encode = binary_encoder(frame, self._column_types(table, list(frame.columns)))
        slices = _binary_slices(frame, order, encode) if encode else _csv_slices(frame, order)
        sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT {'binary' if encode else 'csv'})"
        with slices as chunks, self.raw.cursor().copy(sql) as copy:
            for chunk in chunks:
                copy.write(chunk)

    def insert_new(self, table: str, frame: pd.DataFrame, key: Sequence[str], constants: Mapping[str, str]) -> bool:
        """``COPY`` the frame straight into ``table`` when none of its keys is stored there; True if it did.

        One write instead of a TEMP table and an ``INSERT ... SELECT`` (about 40 % of a bulk merge's time).
        Only inside an open transaction, and only for keys of text columns. A probe of up to ``PROBE_KEYS``
        of the frame's keys (evenly spread) must find none stored; the ``COPY`` then runs in a savepoint, so
        a key it did not probe (or one another transaction inserts meanwhile) rolls it back and the caller
        merges instead. ``constants`` (column -> SQL naming no column, e.g. ``now()``) are evaluated once and
        written to every row.
        """
        import psycopg
        from psycopg.pq import TransactionStatus

        if frame.empty or self.raw.info.transaction_status != TransactionStatus.INTRANS:
            return False
        if any(_COLUMN_REFERENCE.search(expr) for expr in constants.values()) or not self._text_key(table, key):
            return False
        if self._any_stored(table, frame, list(key)):
            return False
        rows = frame.assign(**self._constant_columns(constants, frame.index)) if constants else frame
        self.execute("SAVEPOINT bolsync_insert_new")
        try:
            self._copy(table, rows, key)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected) as error:
            log.info("Direct COPY into %s gave way (%s); merging instead.", table, error)
            self.execute("ROLLBACK TO SAVEPOINT bolsync_insert_new")
            self.execute("RELEASE SAVEPOINT bolsync_insert_new")
            return False
        self.execute("RELEASE SAVEPOINT bolsync_insert_new")
        return True

    def _text_key(self, table: str, key: Sequence[str]) -> bool:
        """Whether ``key`` is columns of ``table`` that are all text (what the probe compares)."""
        return bool(key) and all(name in ("text", "varchar") for name, _ in self._column_types(table, key))

    def _any_stored(self, table: str, frame: pd.DataFrame, key: list[str]) -> bool:
        """Whether any of up to ``PROBE_KEYS`` keys of the frame, evenly spread, is stored in ``table``."""
        picks = np.unique(np.linspace(0, len(frame) - 1, num=min(len(frame), self.PROBE_KEYS)).astype(np.int64))
        probe = frame[key].iloc[picks]
        if probe.isna().to_numpy().any():
            return True
        arrays = ", ".join("CAST(? AS text[])" for _ in key)
        on = " AND ".join(f"t.{k} = probe.k{n}" for n, k in enumerate(key))
        found = self.scalar(
            f"SELECT EXISTS (SELECT 1 FROM unnest({arrays}) AS probe({', '.join(f'k{n}' for n in range(len(key)))}) "
            f"JOIN {table} AS t ON {on})",
            [probe[k].astype(str).tolist() for k in key],
        )
        return bool(found)

    def _constant_columns(self, constants: Mapping[str, str], index: pd.Index) -> dict[str, pd.Series]:
        """Each constant's value (evaluated once) repeated over ``index``, typed for the binary encoder."""
        if not constants:
            return {}
        values = self.execute("SELECT " + ", ".join(constants.values())).fetchone()
        columns = {}
        for name, value in zip(constants, values, strict=True):
            if isinstance(value, datetime):
                columns[name] = pd.Series(pd.Timestamp(value), index=index).astype("datetime64[us, UTC]")
            elif isinstance(value, str):
                columns[name] = pd.Series(value, index=index, dtype="string")
            else:
                columns[name] = pd.Series([value] * len(index), index=index)
        return columns

    def _column_types(self, table: str, columns: Sequence[str] | None = None) -> list[tuple[str, int]]:
        """(type name, typmod) of each of ``columns`` of ``table`` in that order (default: all, in order)."""
        rows = self.query(
            "SELECT a.attname, t.typname, a.atttypmod FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [table],
        )
        types = {str(name): (str(type_name), int(typmod)) for name, type_name, typmod in rows}
        return [types[c] for c in (types if columns is None else columns)]

    def _primary_key(self, table: str) -> list[str]:
        """The primary key columns of ``table``, in order (none: [])."""
        if table not in self._primary_keys:
            rows = self.query(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary "
                "ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)",
                [table],
            )
            self._primary_keys[table] = [row[0] for row in rows]
        return self._primary_keys[table]

    def _merge_relation(
        self,
        table: str,
        relation: str,
        columns: list[str],
        key: list[str],
        sets: dict[str, str],
        update_when: str,
        extra: Mapping[str, str],
    ) -> tuple[int, int]:
        """``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE update_when`` in key order, counted by
        ``RETURNING``; a relation of ``BULK_ROWS`` or more is shaped by a sample of its rows first.

        Key order: concurrent merges lock rows in the same order. A mostly new sample (``NEW_SHARE``) first
        inserts the new keys with a plain anti-join ``INSERT`` in a savepoint (a key another transaction
        inserts meanwhile, or a deadlock, rolls it back: the ``ON CONFLICT`` statement then takes every
        row). After that, or when the sample is mostly rows that would not change (``UNCHANGED_SHARE``),
        the ``ON CONFLICT`` statement skips the rows for which ``update_when`` does not hold against the
        stored row (an anti-join; ``excluded`` is then the relation's row, so ``update_when`` may use only
        ``columns``), instead of locking each of them; ``ON CONFLICT`` settles whatever changed since.
        """
        import psycopg

        rows = self._staged_rows.get(relation)
        if rows is None:
            rows = int(self.scalar(f"SELECT count(*) FROM {relation}"))
        if not rows:
            return 0, 0
        on = " AND ".join(f"t.{k} = excluded.{k}" for k in key)
        into = f"INSERT INTO {table} AS t ({', '.join([*columns, *extra])}) "
        values = ", ".join([*(f"excluded.{c}" for c in columns), *extra.values()])
        select = f"SELECT {values} FROM {relation} AS excluded"
        conflict = (
            f"UPDATE SET {', '.join(f'{c} = {expr}' for c, expr in sets.items())} WHERE {update_when}"
            if sets
            else "NOTHING"
        )

        def upsert(skip_unchanged: bool) -> tuple[int, int]:
            unchanged = f"SELECT 1 FROM {table} AS t WHERE {on} AND ({update_when}) IS NOT TRUE"
            return self._upsert_counted(
                f"{into}{select}{f' WHERE NOT EXISTS ({unchanged})' if skip_unchanged else ''} "
                f"ORDER BY {', '.join(f'excluded.{k}' for k in key)} ON CONFLICT ({', '.join(key)}) DO {conflict}"
            )

        if rows < self.BULK_ROWS:
            return upsert(skip_unchanged=False)
        with self._atomic(), self._local_settings(self._join_settings(table, relation)):
            total, new, unchanged = self._sample(table, relation, on, update_when, rows)
            if new < self.NEW_SHARE * total:
                return upsert(skip_unchanged=unchanged >= self.UNCHANGED_SHARE * total)
            self.execute("SAVEPOINT bolsync_merge")
            try:
                inserted = self.execute(
                    f"{into}{select} WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {on})"
                ).rowcount
            except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected) as error:
                log.info("Plain insert into %s gave way (%s); merging with ON CONFLICT.", table, error)
                self.execute("ROLLBACK TO SAVEPOINT bolsync_merge")
                inserted = 0
            self.execute("RELEASE SAVEPOINT bolsync_merge")
            if inserted == rows:
                return inserted, 0
            more, updated = upsert(skip_unchanged=True)  # which skips the rows just inserted too
            return inserted + more, updated

    def _upsert_counted(self, insert: str) -> tuple[int, int]:
        """Run the ``ON CONFLICT`` ``insert``; (inserted, updated) from ``RETURNING``."""
        row = self.execute(
            f"WITH merged AS ({insert} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
        ).fetchone()
        return int(row[0]), int(row[1])

    def _sample(self, table: str, relation: str, on: str, update_when: str, rows: int) -> tuple[int, int, int]:
        """Of about ``SAMPLE_ROWS`` rows of ``relation``: how many, how many new keys, how many would not change."""
        sample = relation
        if rows > self.SAMPLE_ROWS:
            kind = self.scalar("SELECT relkind FROM pg_class WHERE oid = to_regclass(?)", [relation])
            share = self.SAMPLE_ROWS / rows
            sample = (
                f"{relation} TABLESAMPLE SYSTEM ({100 * share:.6f}) REPEATABLE (0)"
                if kind in ("r", "m")
                else f"(SELECT * FROM {relation} WHERE random() < {share:.6f}) AS sampled"
            )
        total, new, unchanged = self.execute(
            f"SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {on})), "
            f"count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {table} AS t WHERE {on} AND ({update_when}) IS NOT TRUE)) "
            f"FROM (SELECT * FROM {sample}) AS excluded"
        ).fetchone()
        return int(total), int(new), int(unchanged)

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """A transaction unless one is open already."""
        from psycopg.pq import TransactionStatus

        if self.raw.info.transaction_status == TransactionStatus.IDLE:
            with self.transaction():
                yield
        else:
            yield

    def _join_settings(self, table: str, relation: str) -> dict[str, str]:
        """Transaction-local planner settings for a bulk merge's statements.

        ``jit`` off: compiling the long ``update_when`` takes longer than it saves (0.4 s of a 1M-row merge).
        A relation much smaller than the table (size on disk) is joined by probing the key index once per
        row: the planner would rather hash the whole table (wide rows, about a second per million) than probe
        a cached index. Otherwise both sides are hashed, with ``work_mem`` raised to ``MERGE_WORK_MEM`` (never
        lowered) so that a million rows hash in memory.
        """
        relation_bytes, table_bytes, low_work_mem = self.execute(
            "SELECT pg_relation_size(to_regclass(?)), pg_relation_size(to_regclass(?)), "
            "pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(?)",
            [relation, table, self.MERGE_WORK_MEM],
        ).fetchone()
        if relation_bytes and table_bytes and table_bytes > 2 * relation_bytes:
            return {"jit": "off", "enable_hashjoin": "off", "enable_mergejoin": "off"}
        return {"jit": "off", **({"work_mem": self.MERGE_WORK_MEM} if low_work_mem else {})}

    @contextmanager
    def _local_settings(self, settings: Mapping[str, str]) -> Iterator[None]:
        """``settings`` inside the open transaction only: put back afterwards."""
        from psycopg.pq import TransactionStatus

        if not settings:
            yield
            return
        names = list(settings)
        previous = self.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchone()
        assign = "SELECT " + ", ".join(f"set_config('{n}', ?, true)" for n in names)
        self.execute(assign, list(settings.values()))
        try:
            yield
        finally:
            if self.raw.info.transaction_status == TransactionStatus.INTRANS:  # else the rollback resets them
                self.execute(assign, list(previous))


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
def _csv_slices(frame: pd.DataFrame, order: Sequence[str] = (), rows: int | None = None) -> Iterator[Iterator[bytes]]:
    """The frame as headerless CSV chunks (NULL = empty, '' = ""), UTC timestamps, sorted by ``order``.

    A worker thread's in-memory DuckDB sorts the rows' positions by ``order`` (byte order), then writes
    ``rows`` (default ``COPY_SLICE_ROWS``) rows at a time to a file of their own (DuckDB writes one file in
    parallel pieces, so a file is read only once complete); the chunks of one slice are read while the next
    slices are encoded. Files are removed once read.
    """
    import duckdb

    rows = rows or COPY_SLICE_ROWS
    folder = tempfile.mkdtemp(prefix="bolsync-copy-")
    encoder = duckdb.connect()

    def encode(number: int, start: int) -> str:
        path = os.path.join(folder, f"{number}.csv")
        if positions is None:
            _write_csv(encoder, frame.iloc[start : start + rows], path)
        else:
            _write_csv(encoder, frame.take(positions.result()[start : start + rows]), path)
        return path

    def chunks() -> Iterator[bytes]:
        for future in futures:
            path = future.result()
            with open(path, "rb") as source:
                while chunk := source.read(COPY_CHUNK):
                    yield chunk
            os.unlink(path)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bolsync-csv")
    try:
        encoder.execute("SET TimeZone = 'UTC'")
        positions = pool.submit(_sorted_positions, frame, order) if order else None
        futures = [pool.submit(encode, number, start) for number, start in enumerate(range(0, len(frame), rows))]
        yield chunks()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        encoder.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _binary_slices(
    frame: pd.DataFrame, order: Sequence[str], encode: Callable[[pd.DataFrame], bytes], rows: int | None = None
) -> Iterator[Iterator[bytes]]:
    """The frame as binary ``COPY`` data, one ``rows``-row slice at a time, sorted by ``order``.

    A worker thread sorts the rows' positions (see :func:`_sorted_positions`) and encodes each slice while
    the previous one streams; at most ``BINARY_AHEAD`` slices wait, so memory holds a few slices. The first
    slice is a fifth of the others: ``COPY`` starts sooner.
    """
    rows = rows or COPY_SLICE_ROWS
    first = max(1, rows // 5)
    starts = [0, *range(first, len(frame), rows)] if len(frame) else []
    slices = list(zip(starts, [*starts[1:], len(frame)], strict=False))
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bolsync-copy")

    def encode_slice(bounds: tuple[int, int]) -> bytes:
        start, stop = bounds
        if positions is None:
            return encode(frame.iloc[start:stop])
        return encode(frame.take(positions.result()[start:stop]))

    def chunks() -> Iterator[bytes]:
        yield HEADER
        waiting = deque(pool.submit(encode_slice, bounds) for bounds in slices[:BINARY_AHEAD])
        for bounds in slices[BINARY_AHEAD:]:
            yield waiting.popleft().result()
            waiting.append(pool.submit(encode_slice, bounds))
        while waiting:
            yield waiting.popleft().result()
        yield TRAILER

    try:
        positions = pool.submit(_sorted_positions, frame, order) if order else None
        yield chunks()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _sorted_positions(frame: pd.DataFrame, order: Sequence[str]) -> np.ndarray:
    """The frame's row positions sorted by the ``order`` columns (byte order), by an in-memory DuckDB."""
    import duckdb

    keys = frame[list(order)].assign(bolsync_position=np.arange(len(frame)))
    with duckdb.connect() as sorter:
        sorter.register("frame_keys", keys)
        by = ", ".join([*order, "bolsync_position"])
        result = sorter.execute(f"SELECT bolsync_position FROM frame_keys ORDER BY {by}").fetchnumpy()
    return np.asarray(result["bolsync_position"])


def _write_csv(encoder: Any, frame: pd.DataFrame, path: str) -> None:
    """One slice to a CSV file with DuckDB (``encoder``: its connection, session time zone UTC)."""
    encoder.register("frame_slice", frame)
    literal = str(path).replace("'", "''")
    encoder.execute(f"COPY (SELECT * FROM frame_slice) TO '{literal}' (FORMAT CSV, HEADER false)")
