"""The few warehouse operations the pipeline needs, on either engine (see ``connection``)."""

from __future__ import annotations

import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


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

    @contextmanager
    def staged_latest(
        self, chunks: Iterable[pd.DataFrame], like: str, key: Sequence[str], version: str | None = None
    ) -> Iterator[tuple[str, list[str]] | None]:
        """Context manager: every frame of ``chunks`` as one TEMP table typed like ``like``, one row per ``key``.

        Of the rows of one key it keeps the newest ``version`` (non-null first), and on a tie the one of the
        later chunk, so several chunks merge like one frame. Each chunk must already hold one row per key.
        The chunks are appended one at a time, so memory holds one chunk; stage before opening the merging
        transaction (DuckDB keeps a transaction's writes in memory). Yields (table name, columns), or None
        when every chunk was empty.
        """
        name = f"stage_{next(self._names)}"
        columns: list[str] = []
        try:
            for number, frame in enumerate(chunks):
                if frame.empty:
                    continue
                if not columns:
                    columns = list(frame.columns)
                    self.execute(
                        f"CREATE TEMP TABLE {name} AS SELECT {', '.join(columns)}, 0 AS chunk_number "
                        f"FROM {like} WITH NO DATA"
                    )
                with self.staged(frame[columns], like) as incoming:
                    self.execute(
                        f"INSERT INTO {name} ({', '.join(columns)}, chunk_number) "
                        f"SELECT {', '.join(columns)}, {number} FROM {incoming}"
                    )
            if not columns:
                yield None
                return
            newest = f"{version} DESC NULLS LAST, " if version else ""
            self.execute(
                f"CREATE TEMP TABLE {name}_latest AS SELECT {', '.join(columns)} FROM ("
                f"SELECT *, row_number() OVER (PARTITION BY {', '.join(key)} ORDER BY {newest}chunk_number DESC) "
                f"AS key_rank FROM {name}) AS ranked WHERE key_rank = 1"
            )
            self.execute(f"DROP TABLE {name}")
            yield f"{name}_latest", columns
        finally:
            self._drop_temp(name, f"{name}_latest")

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
    ) -> tuple[int, int]:
        """Upsert ``frame`` (one row per key) into ``table``; see :meth:`merge_relation`."""
        if frame.empty:
            return 0, 0
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
    ) -> tuple[int, int]:
        """Upsert ``columns`` of ``relation`` (one row per key) into ``table`` on ``key``; (inserted, updated).

        By default an existing row is updated only when a column differs and, with ``version``, only by a row
        at least as new (``excluded.version >= t.version``: older data never overwrites newer).
        ``assignments`` (column -> SQL over ``t.`` = stored and ``excluded.`` = incoming) and ``update_when``
        (a condition over both) replace those defaults; ``update_when`` should hold only when a row really
        changes, as it is what is counted as updated. ``inserted_only`` maps extra columns to SQL set on
        insert only, e.g. ``{"first_synced_at": "now()"}``.
        """
        values = [c for c in columns if c not in key]
        sets = dict(assignments) if assignments is not None else {c: f"excluded.{c}" for c in values}
        if update_when is None:
            guard = f"excluded.{version} >= t.{version}" if version else "TRUE"
            changed = " OR ".join(f"t.{c} IS DISTINCT FROM {expr}" for c, expr in sets.items()) or "FALSE"
            update_when = f"({guard}) AND ({changed})"
        return self._merge_relation(table, relation, list(columns), list(key), sets, update_when, inserted_only or {})

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
