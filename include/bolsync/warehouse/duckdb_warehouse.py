"""The DuckDB warehouse: DataFrames are scanned in place (registered views)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from bolsync.warehouse.base import Staged, Table, Warehouse

log = logging.getLogger(__name__)

T = TypeVar("T")

#: DuckDB settings while a streamed load merges: the transaction's new rows go to the file one row group at a
#: time (by default DuckDB holds five in memory first, about 150 MB of order items).
MERGE_SETTINGS = {"write_buffer_row_group_count": "1"}
#: The memory, in bytes, within which a streamed load's scans run (finding repeated keys, finding the rows
#: that change, inserting new rows): on one thread, spilling beyond it to DuckDB's temporary files, so the
#: load's peak memory hardly grows with its size. The updates themselves run with the connection's limit.
BOUNDED_MEMORY = 32 * 2**20
_SIZE_UNITS = {"bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, raw: Any, memory_limit: str | None = None) -> None:
        self.raw = raw
        #: The memory limit the connection was opened with, as configured. DuckDB shows it rounded, so bounded
        #: statements restore this value; None (not known): nothing is bounded.
        self.memory_limit = memory_limit
        #: The settings of the bounded statements of the merges :meth:`run_merges` is running, else empty.
        self._bound: dict[str, str] = {}

    def run_merges(self, work: Callable[[], T]) -> T:
        """As :meth:`Warehouse.run_merges`, the scans of the merges within :data:`BOUNDED_MEMORY` (see
        :meth:`_merge_relation`); if DuckDB runs out of memory there, the transaction is rolled back and the
        merges run again with the connection's own limit."""
        self._bound = self._bounded_settings()
        before = self._current(self._bound)
        try:
            with self.transaction():
                return work()
        except duckdb.OutOfMemoryException as error:
            log.warning("The merge ran out of its bounded memory (%s); merging again with the full limit.", error)
        finally:
            self._bound = {}
            self._set(before)
        with self.transaction():
            return work()

    def _bounded_settings(self) -> dict[str, str]:
        """One thread and :data:`BOUNDED_MEMORY`, or the connection's memory limit where that is lower; no
        settings when that limit is not known."""
        if self.memory_limit is None:
            return {}
        number, unit = str(self.query("SELECT current_setting('memory_limit')")[0][0]).split()
        limit = int(float(number) * _SIZE_UNITS[unit.lower()])
        return {"threads": "1", "memory_limit": f"{min(BOUNDED_MEMORY, limit)}B"}

    def _execute_bounded(self, sql: str) -> None:
        """``sql`` with :meth:`_bounded_settings`; run again with the connection's own if it runs out of them."""
        try:
            with self._settings(self._bounded_settings()):
                self.execute(sql)
                return
        except duckdb.OutOfMemoryException as error:
            log.warning(
                "A staging statement ran out of its bounded memory (%s); running it with the full limit.", error
            )
        self.execute(sql)

    @contextmanager
    def staged_latest_many(
        self, chunks: Iterable[Sequence[pd.DataFrame]], specs: Sequence[Table]
    ) -> Iterator[list[Staged]]:
        """As :meth:`Warehouse.staged_latest_many`, but the frames go to Parquet files in a temporary folder.

        A table (TEMP or not) would keep the rows in DuckDB's memory until a checkpoint; Parquet files are
        read back in a stream by the merge, so staging holds one chunk however large the window. Only keys
        staged more than once go through the newest-row window (see :meth:`_create_latest_view`); the
        merges run with :data:`MERGE_SETTINGS`.
        """
        names = [f"stage_{next(self._names)}" for _ in specs]
        columns: list[list[str]] = [[] for _ in specs]
        with tempfile.TemporaryDirectory(prefix="bolsync-stage-") as tmp:
            folders = [Path(tmp) / name for name in names]
            for folder in folders:
                folder.mkdir()
            for number, frames in enumerate(chunks):
                for folder, spec, frame, cols in zip(folders, specs, frames, columns, strict=True):
                    if frame.empty:
                        continue
                    if not cols:
                        cols.extend(frame.columns)
                    with self.staged(frame[cols], spec.name) as incoming:
                        self.execute(
                            f"COPY (SELECT *, {number} AS chunk_number FROM {incoming}) "
                            f"TO {_literal(folder / f'{number:06d}.parquet')} (FORMAT parquet)"
                        )
            try:
                staged: list[Staged] = []
                for name, spec, cols, folder in zip(names, specs, columns, folders, strict=True):
                    if cols:
                        self._create_latest_view(name, spec, cols, folder)
                    staged.append((name, cols) if cols else None)
                with self._settings(MERGE_SETTINGS):
                    yield staged
            finally:
                for name in names:
                    self._drop_staged("VIEW", name)
                    self._drop_staged("TABLE", f"{name}_repeated")

    def _create_latest_view(self, name: str, spec: Table, columns: list[str], folder: Path) -> None:
        """TEMP view ``name``: the newest row per key of ``spec`` among the chunk files in ``folder``.

        Rows whose key is staged once pass as they are, in a stream. Keys staged more than once are found by
        their hash (8 bytes a row, in the TEMP table ``<name>_repeated``; a collision only sends a few more
        rows this way); their newest rows (:meth:`Table.newest_rows`) are written to ``folder/latest`` first,
        so the merges read files only.
        """
        source = f"read_parquet({_literal(folder / '*.parquet')})"
        hashed, repeated = f"hash({spec.key_sql})", f"{name}_repeated"
        self._execute_bounded(
            f"CREATE TEMP TABLE {repeated} AS SELECT {hashed} AS key_hash FROM {source} "
            f"GROUP BY key_hash HAVING count(*) > 1"
        )
        select = f"SELECT {', '.join(columns)} FROM {source}"
        if self.query(f"SELECT count(*) FROM {repeated}")[0][0]:
            latest = folder / "latest" / "newest.parquet"
            latest.parent.mkdir()
            several = f"(SELECT * FROM {source} WHERE {hashed} IN (SELECT key_hash FROM {repeated}))"
            self._execute_bounded(f"COPY ({spec.newest_rows(columns, several)}) TO {_literal(latest)} (FORMAT parquet)")
            select = (
                f"{select} WHERE {hashed} NOT IN (SELECT key_hash FROM {repeated}) "
                f"UNION ALL SELECT {', '.join(columns)} FROM read_parquet({_literal(latest)})"
            )
        self.execute(f"CREATE TEMP VIEW {name} AS {select}")

    @contextmanager
    def _settings(self, settings: Mapping[str, str]) -> Iterator[None]:
        """DuckDB ``settings`` while the block runs, then the values they had (unless the block aborted the
        transaction, which refuses ``SET``: :meth:`run_merges` restores them after the rollback)."""
        before = self._current(settings)
        try:
            self._set(settings)
            yield
        finally:
            try:
                self._set(before)
            except duckdb.TransactionException as error:
                log.debug("Settings not restored in an aborted transaction: %s", error)

    def _current(self, names: Iterable[str]) -> dict[str, str]:
        """The settings' values; ``memory_limit`` as configured (DuckDB shows it rounded: 488.2 MiB for 512MB)."""
        return {
            name: self.memory_limit
            if name == "memory_limit" and self.memory_limit
            else str(self.query(f"SELECT current_setting('{name}')")[0][0])
            for name in names
        }

    def _set(self, settings: Mapping[str, str]) -> None:
        for name, value in settings.items():
            self.execute(f"SET {name} = '{value}'")

    def _drop_staged(self, kind: str, name: str) -> None:
        try:
            self.execute(f"DROP {kind} IF EXISTS {name}")
        except duckdb.Error as error:  # an aborted transaction refuses it; it ends with the connection
            log.debug("TEMP %s %s not dropped: %s", kind.lower(), name, error)

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
        """``UPDATE ... FROM`` the changed rows, then ``INSERT`` the new keys (an anti-join).

        DuckDB's ``ON CONFLICT`` probes the key index row by row; two hash joins are several times faster.
        It is safe because one process writes a DuckDB file at a time (the file lock), so no key can
        appear between the two statements. Within :meth:`run_merges` the rows that change are first copied
        to a TEMP table and the insert runs, both with the bounded settings; the update, from that table,
        does not (an update bounded in memory is several times slower).
        """
        on = " AND ".join(f"t.{k} = excluded.{k}" for k in key)
        updated = 0
        if sets:
            with self._rows_to_change(table, relation, columns, on, update_when) as changing:
                if changing:
                    assigned = ", ".join(f"{c} = {expr}" for c, expr in sets.items())
                    updated = self.execute(
                        f"UPDATE {table} AS t SET {assigned} FROM {changing} AS excluded WHERE {on} AND ({update_when})"
                    ).fetchone()[0]
        with self._settings(self._bound):
            inserted = self.execute(
                f"INSERT INTO {table} ({', '.join([*columns, *extra])}) "
                f"SELECT {', '.join([*(f'excluded.{c}' for c in columns), *extra.values()])} "
                f"FROM {relation} AS excluded WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {on})"
            ).fetchone()[0]
        return int(inserted), int(updated)

    @contextmanager
    def _rows_to_change(
        self, table: str, relation: str, columns: list[str], on: str, update_when: str
    ) -> Iterator[str | None]:
        """The relation to update ``table`` from: ``relation`` itself, or within :meth:`run_merges` a TEMP
        table of its rows for which ``update_when`` holds (None when there are none)."""
        if not self._bound:
            yield relation
            return
        changing = f"changing_{next(self._names)}"
        with self._settings(self._bound):
            self.execute(
                f"CREATE TEMP TABLE {changing} AS SELECT {', '.join(f'excluded.{c}' for c in columns)} "
                f"FROM {relation} AS excluded JOIN {table} AS t ON {on} WHERE {update_when}"
            )
        try:
            yield changing if self.query(f"SELECT count(*) FROM {changing}")[0][0] else None
        finally:
            self._drop_staged("TABLE", changing)


def _literal(path: Path) -> str:
    """``path`` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"
