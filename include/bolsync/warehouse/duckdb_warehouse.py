"""The DuckDB warehouse: DataFrames are scanned in place (registered views)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bolsync.warehouse.base import Staged, Table, Warehouse

log = logging.getLogger(__name__)

#: DuckDB settings while a streamed load merges: the transaction's new rows go to the file one row group at a
#: time (by default DuckDB holds five in memory first, about 150 MB of order items).
MERGE_SETTINGS = {"write_buffer_row_group_count": "1"}


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

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
        self.execute(
            f"CREATE TEMP TABLE {repeated} AS SELECT {hashed} AS key_hash FROM {source} "
            f"GROUP BY key_hash HAVING count(*) > 1"
        )
        select = f"SELECT {', '.join(columns)} FROM {source}"
        if self.query(f"SELECT count(*) FROM {repeated}")[0][0]:
            latest = folder / "latest" / "newest.parquet"
            latest.parent.mkdir()
            several = f"(SELECT * FROM {source} WHERE {hashed} IN (SELECT key_hash FROM {repeated}))"
            self.execute(f"COPY ({spec.newest_rows(columns, several)}) TO {_literal(latest)} (FORMAT parquet)")
            select = (
                f"{select} WHERE {hashed} NOT IN (SELECT key_hash FROM {repeated}) "
                f"UNION ALL SELECT {', '.join(columns)} FROM read_parquet({_literal(latest)})"
            )
        self.execute(f"CREATE TEMP VIEW {name} AS {select}")

    @contextmanager
    def _settings(self, settings: Mapping[str, str]) -> Iterator[None]:
        """DuckDB ``settings`` while the block runs, then the values they had."""
        before = {name: self.query(f"SELECT current_setting('{name}')")[0][0] for name in settings}
        for name, value in settings.items():
            self.execute(f"SET {name} = '{value}'")
        try:
            yield
        finally:
            for name, value in before.items():
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
        appear between the two statements.
        """
        on = " AND ".join(f"t.{k} = excluded.{k}" for k in key)
        updated = 0
        if sets:
            assigned = ", ".join(f"{c} = {expr}" for c, expr in sets.items())
            updated = self.execute(
                f"UPDATE {table} AS t SET {assigned} FROM {relation} AS excluded WHERE {on} AND ({update_when})"
            ).fetchone()[0]
        inserted = self.execute(
            f"INSERT INTO {table} ({', '.join([*columns, *extra])}) "
            f"SELECT {', '.join([*(f'excluded.{c}' for c in columns), *extra.values()])} FROM {relation} AS excluded "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {on})"
        ).fetchone()[0]
        return int(inserted), int(updated)


def _literal(path: Path) -> str:
    """``path`` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"
