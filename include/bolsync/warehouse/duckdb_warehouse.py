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
        read back in a stream by the merge, so staging holds one chunk however large the window.
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
            staged: list[Staged] = []
            for name, spec, cols, folder in zip(names, specs, columns, folders, strict=True):
                if cols:
                    parquet = f"read_parquet({_literal(folder / '*.parquet')})"
                    self.execute(f"CREATE TEMP VIEW {name} AS {spec.newest_rows(cols, parquet)}")
                staged.append((name, cols) if cols else None)
            try:
                yield staged
            finally:
                for name in names:
                    self._drop_temp_view(name)

    def _drop_temp_view(self, name: str) -> None:
        try:
            self.execute(f"DROP VIEW IF EXISTS {name}")
        except duckdb.Error as error:  # an aborted transaction refuses it; the view ends with the connection
            log.debug("TEMP view %s not dropped: %s", name, error)

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
