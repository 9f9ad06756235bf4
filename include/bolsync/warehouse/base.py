"""The few warehouse operations the pipeline needs, on either engine (see ``connection``)."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd


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
