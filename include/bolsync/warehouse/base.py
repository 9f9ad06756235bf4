"""The few warehouse operations the pipeline needs, on either engine (see ``connection``)."""

from __future__ import annotations

import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bolsync.warehouse.lineage import Lineage, new_row_sql

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: A staged relation and its columns, or None when nothing was staged.
Staged = tuple[str, list[str]] | None
T = TypeVar("T")


@dataclass
class UpsertCounts:
    """Rows a merge inserted and rows it really changed."""

    inserted: int = 0
    updated: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(self.inserted + other.inserted, self.updated + other.updated)


@dataclass(frozen=True)
class Table:
    """A warehouse table's declaration: its name, its natural key and the column that orders versions of a key.

    Each stream declares its tables once (``orders.transform``, ``offers.transform``); the transforms keep one
    row per key by it, the merges upsert on it, the quality checks verify it, and a test holds the DDL to it.
    """

    name: str
    key: tuple[str, ...]
    version: str | None = None

    @property
    def key_sql(self) -> str:
        return ", ".join(self.key)

    def newest_rows(self, columns: Sequence[str], source: str) -> str:
        """``SELECT`` of ``source``'s newest row per key: the newest ``version`` (non-null first), and on a tie
        the row of the later ``chunk_number``, so several chunks merge like one frame."""
        newest = f"{self.version} DESC NULLS LAST, " if self.version else ""
        return (
            f"SELECT {', '.join(columns)} FROM (SELECT *, row_number() OVER (PARTITION BY {', '.join(self.key)} "
            f"ORDER BY {newest}chunk_number DESC) AS key_rank FROM {source}) AS ranked WHERE key_rank = 1"
        )


class Warehouse(ABC):
    """One open, migrated warehouse connection (see the module docstring)."""

    backend: str
    raw: Any
    _names = itertools.count(1)
    #: Whether frames may be staged inside the transaction that merges them (DuckDB keeps a transaction's
    #: writes in memory, so it stages first).
    stages_in_transaction = False

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement (``?`` placeholders); the result has ``fetchone``/``fetchall``."""

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first column of the first row (None without rows); the whole result is read, as DuckDB refuses new
        work on a connection while a result is unfinished."""
        rows = self.execute(sql, params).fetchall()
        return rows[0][0] if rows else None

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

    def run_merges(self, work: Callable[[], T]) -> T:
        """``work()``, a load's merges of staged relations, in one transaction: its own, or on an engine that
        stages inside the transaction (:attr:`stages_in_transaction`), the one already open. ``work`` may run
        again after a rollback, so it returns what it did rather than adding it up elsewhere."""
        if self.stages_in_transaction:
            return work()
        with self.transaction():
            return work()

    @abstractmethod
    def staged(self, frame: pd.DataFrame, like: str) -> Any:
        """Context manager: ``frame`` as a relation named by the yielded string, typed like table ``like``."""

    def insert_new(self, table: str, frame: pd.DataFrame, key: Sequence[str], constants: Mapping[str, str]) -> bool:
        """Insert the frame into ``table`` in one write when none of its keys is stored; True if it did.

        ``constants`` (column -> SQL naming no column) fill the other columns. An engine without such a path
        returns False, and the caller merges.
        """
        return False

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Held while migrations run (DuckDB: the file lock already is)."""
        yield

    def close(self) -> None:
        self.raw.close()

    @contextmanager
    def staged_latest(self, chunks: Iterable[pd.DataFrame], table: Table) -> Iterator[Staged]:
        """:meth:`staged_latest_many` for one table."""
        with self.staged_latest_many(([frame] for frame in chunks), [table]) as (staged,):
            yield staged

    @contextmanager
    def staged_latest_many(
        self, chunks: Iterable[Sequence[pd.DataFrame]], specs: Sequence[Table]
    ) -> Iterator[list[Staged]]:
        """Context manager: per spec, the frames of every chunk (one frame per spec) as one TEMP table typed
        like ``spec.name``, one row per key (see :meth:`Table.newest_rows`).

        Each frame must already hold one row per key. The chunks are appended one at a time, so memory holds
        one chunk; stage before opening the merging transaction (DuckDB keeps a transaction's writes in
        memory). Yields per spec (table name, columns), or None when all its frames were empty.
        """
        names = [f"stage_{next(self._names)}" for _ in specs]
        columns: list[list[str]] = [[] for _ in specs]
        try:
            for number, frames in enumerate(chunks):
                for name, spec, frame, cols in zip(names, specs, frames, columns, strict=True):
                    if frame.empty:
                        continue
                    if not cols:
                        cols.extend(frame.columns)
                        self.execute(
                            f"CREATE TEMP TABLE {name} AS SELECT {', '.join(cols)}, 0 AS chunk_number "
                            f"FROM {spec.name} WITH NO DATA"
                        )
                    with self.staged(frame[cols], spec.name) as incoming:
                        self.execute(
                            f"INSERT INTO {name} ({', '.join(cols)}, chunk_number) "
                            f"SELECT {', '.join(cols)}, {number} FROM {incoming}"
                        )
            staged: list[Staged] = []
            for name, spec, cols in zip(names, specs, columns, strict=True):
                if cols:
                    self.execute(f"CREATE TEMP TABLE {name}_latest AS {spec.newest_rows(cols, name)}")
                    self.execute(f"DROP TABLE {name}")
                staged.append((f"{name}_latest", cols) if cols else None)
            yield staged
        finally:
            self._drop_temp(*names, *(f"{name}_latest" for name in names))

    def _drop_temp(self, *names: str) -> None:
        """Best effort: TEMP tables end with the session anyway, and a failed transaction refuses the DROP."""
        for name in names:
            try:
                self.execute(f"DROP TABLE IF EXISTS {name}")
            except Exception as error:
                log.debug("TEMP table %s not dropped: %s", name, error)

    def merge(
        self,
        table: str,
        frame: pd.DataFrame,
        key: Sequence[str],
        *,
        version: str | None = None,
        inserted_only: Mapping[str, str] | None = None,
        assignments: Mapping[str, str] | None = None,
        update_when: str | None = None,
        lineage: Lineage | None = None,
    ) -> tuple[int, int]:
        """Upsert ``frame`` (one row per key) into ``table``; see :meth:`merge_relation`.

        A frame whose keys are all new lands in one write where the engine can (:meth:`insert_new`).
        """
        if frame.empty:
            return 0, 0
        if self.insert_new(table, frame, key, new_row_sql(inserted_only, lineage)):
            return len(frame), 0
        with self.staged(frame, table) as incoming:
            return self.merge_relation(
                table,
                incoming,
                list(frame.columns),
                key,
                version=version,
                inserted_only=inserted_only,
                assignments=assignments,
                update_when=update_when,
                lineage=lineage,
            )

    def merge_relation(
        self,
        table: str,
        relation: str,
        columns: Sequence[str],
        key: Sequence[str],
        *,
        version: str | None = None,
        inserted_only: Mapping[str, str] | None = None,
        assignments: Mapping[str, str] | None = None,
        update_when: str | None = None,
        lineage: Lineage | None = None,
    ) -> tuple[int, int]:
        """Upsert ``columns`` of ``relation`` (one row per key) into ``table`` on ``key``; (inserted, updated).

        By default an existing row is updated only when a column differs and, with ``version``, only by a row
        at least as new (``excluded.version >= t.version``: older data never overwrites newer).
        ``assignments`` (column -> SQL over ``t.`` = stored and ``excluded.`` = incoming) and ``update_when``
        (a condition over both) replace those defaults; ``update_when`` should hold only when a row really
        changes, as it is what is counted as updated. ``inserted_only`` maps extra columns to SQL set on
        insert only, e.g. ``{"first_synced_at": "now()"}``. ``lineage`` (see ``warehouse.lineage``) is written on
        insert and with every update for which ``update_when`` holds; it never makes a row count as changed.
        """
        values = [c for c in columns if c not in key]
        sets = dict(assignments) if assignments is not None else {c: f"excluded.{c}" for c in values}
        if update_when is None:
            guard = f"excluded.{version} >= t.{version}" if version else "TRUE"
            changed = " OR ".join(f"t.{c} IS DISTINCT FROM {expr}" for c, expr in sets.items()) or "FALSE"
            update_when = f"({guard}) AND ({changed})"
        extra = dict(inserted_only or {})
        if lineage is not None:
            marks = lineage.sql()
            sets.update(marks)
            extra.update(marks)
        return self._merge_relation(table, relation, list(columns), list(key), sets, update_when, extra)

    @abstractmethod
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
        """The engine's upsert of ``relation`` into ``table`` (see :meth:`merge_relation`); (inserted, updated)."""
