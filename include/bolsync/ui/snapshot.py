"""The page's summary, read without ever making a load wait.

PostgreSQL: read on every request (its row locks never block readers). DuckDB allows one process per file: the
page takes bolsync's warehouse lock (``<file>.lock``, see ``warehouse.duckdb_connection``) only if it is free
within ``LOCK_WAIT``, opens the file read-only for one short read and lets go, then again for each account's
estimates (a load that starts meanwhile waits for one such read only). Each summary read is kept in
``<file>.status.json`` (owner-only); while a load holds the file, or within ``REUSE`` of the last read, the
page answers from it and shows its age.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from bolsync.runs.staging import LockTimeout, flock_within, open_private, record_holder
from bolsync.ui.summary import add_estimates, assemble, build_summary, read_rows, skip_estimates
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync.warehouse.duckdb_warehouse import DuckDBWarehouse

log = logging.getLogger(__name__)

#: The longest the page waits for the warehouse lock before it answers from the last summary.
LOCK_WAIT = timedelta(milliseconds=200)
#: The estimates are read in slices of about this long, letting go of the file in between.
READ_SLICE = timedelta(milliseconds=100)
#: A summary younger than this is shown again without touching the file.
REUSE = timedelta(seconds=30)


@dataclass(frozen=True)
class Snapshot:
    """A summary, when it was read, and why it is not fresh (None: read just now)."""

    summary: dict[str, Any] | None
    read_at: datetime | None
    stale_because: str | None = None

    def age(self, now: datetime) -> timedelta | None:
        return now - self.read_at if self.read_at is not None else None


def cache_path(database: Path) -> Path:
    """The file the last summary of a DuckDB warehouse is kept in."""
    return database.with_name(database.name + ".status.json")


def load_cached(path: Path) -> Snapshot | None:
    """The kept summary, or None when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text())
        return Snapshot(data["summary"], datetime.fromisoformat(data["read_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_cached(path: Path, snapshot: Snapshot) -> None:
    """Keep ``snapshot`` (written to a temporary file, then renamed: a reader never sees half a file)."""
    assert snapshot.read_at is not None
    text = json.dumps({"read_at": snapshot.read_at.isoformat(), "summary": snapshot.summary})
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = open_private(partial, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    partial.replace(path)


@contextmanager
def short_read(database: Path, lock_wait: timedelta = LOCK_WAIT) -> Iterator[Warehouse]:
    """A read-only connection under bolsync's warehouse lock taken within ``lock_wait``; LockTimeout when a load
    holds it, duckdb.IOException when another program does. Keep the block short: a load waits for it."""
    fd = open_private(database.with_name(database.name + ".lock"), os.O_RDWR)
    try:
        flock_within(fd, fcntl.LOCK_EX, lock_wait, "the warehouse lock", "the status page answers from its summary")
        try:
            record_holder(fd)
            raw = duckdb.connect(str(database), read_only=True)
            try:
                yield DuckDBWarehouse(raw)
            finally:
                raw.close()
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_duckdb(
    database: Path,
    now: datetime,
    configured: Sequence[str] = (),
    history_start: date | None = None,
    lock_wait: timedelta = LOCK_WAIT,
) -> dict[str, Any]:
    """The summary in short reads: every query but the estimates in one, then the estimates in slices of
    ``READ_SLICE`` (a load that takes the file in between leaves the rest without one, saying so); the calendars
    are computed with the file let go."""
    if not database.exists():
        raise FileNotFoundError(f"the DuckDB warehouse {database} does not exist yet: no sync has run")
    with short_read(database, lock_wait) as conn:
        rows = read_rows(conn, now, configured)
    summary = assemble(rows, now, history_start)
    pending = list(summary["accounts"])
    while pending:
        try:
            with short_read(database, lock_wait) as conn:
                started = time.monotonic()
                while pending and time.monotonic() - started < READ_SLICE.total_seconds():
                    add_estimates(conn, pending.pop(0), now)
        except (LockTimeout, duckdb.IOException):
            skip_estimates(summary, "a load held the warehouse")
            break
    return summary


def duckdb_snapshot(
    database: Path,
    now: datetime,
    configured: Sequence[str] = (),
    history_start: date | None = None,
    reuse: timedelta = REUSE,
    lock_wait: timedelta = LOCK_WAIT,
) -> Snapshot:
    """The summary of a DuckDB warehouse: the kept one if younger than ``reuse`` or if the file is busy."""
    kept_at = cache_path(database)
    cached = load_cached(kept_at)
    if cached is not None and cached.read_at is not None and now - cached.read_at < reuse:
        return cached
    try:
        fresh = Snapshot(read_duckdb(database, now, configured, history_start, lock_wait), now)
    except (LockTimeout, duckdb.IOException) as error:
        reason = "a load holds the warehouse" if isinstance(error, LockTimeout) else f"the file is busy ({error})"
        log.info("Status page: %s; answering from the last summary.", reason)
        if cached is None:
            return Snapshot(None, None, f"{reason} and no earlier summary is kept yet; reload in a minute")
        return Snapshot(cached.summary, cached.read_at, reason)
    store_cached(kept_at, fresh)
    return fresh


def read_snapshot(
    target: WarehouseTarget, now: datetime, configured: Sequence[str] = (), history_start: date | None = None
) -> Snapshot:
    """The page's summary of the warehouse ``target`` (see the module docstring)."""
    if target.backend == "duckdb":
        assert target.path is not None
        return duckdb_snapshot(target.path, now, configured, history_start)
    with connect_warehouse(target) as conn:
        return Snapshot(build_summary(conn, now, configured, history_start), datetime.now(UTC))
