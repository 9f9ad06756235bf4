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

from bolsync.warehouse.base import Warehouse

log = logging.getLogger(__name__)


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    @contextmanager
    def staged_latest(
        self, chunks: Iterable[pd.DataFrame], like: str, key: Sequence[str], version: str | None = None
    ) -> Iterator[tuple[str, list[str]] | None]:
        """As :meth:`Warehouse.staged_latest`, but the chunks go to Parquet files in a temporary folder.

        A table (TEMP or not) would keep the rows in DuckDB's memory until a checkpoint; Parquet files are
        read back in a stream by the merge, so staging holds one chunk however large the window.
        """
        name = f"stage_{next(self._names)}"
        columns: list[str] = []
        with tempfile.TemporaryDirectory(prefix="bolsync-stage-") as tmp:
            folder = tmp.replace("'", "''")  # a SQL string literal below
            for number, frame in enumerate(chunks):
                if frame.empty:
                    continue
                columns = columns or list(frame.columns)
                with self.staged(frame[columns], like) as incoming:
                    self.execute(
                        f"COPY (SELECT *, {number} AS chunk_number FROM {incoming}) "
                        f"TO '{Path(folder) / f'{number:06d}.parquet'}' (FORMAT parquet)"
                    )
            if not columns:
                yield None
                return
            newest = f"{version} DESC NULLS LAST, " if version else ""
            self.execute(
                f"CREATE TEMP VIEW {name} AS SELECT {', '.join(columns)} FROM ("
                f"SELECT *, row_number() OVER (PARTITION BY {', '.join(key)} ORDER BY {newest}chunk_number DESC) "
                f"AS key_rank FROM read_parquet('{Path(folder) / '*.parquet'}')) AS ranked WHERE key_rank = 1"
            )
            try:
                yield name, columns
            finally:
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
