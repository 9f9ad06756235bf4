"""The DuckDB warehouse: DataFrames are scanned in place (registered views)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from bolsync.warehouse.base import Warehouse


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
