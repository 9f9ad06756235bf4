"""Short DuckDB connections to a DuckDB file, one process at a time.

DuckDB allows one writing process per file. Every bolsync connection first takes an exclusive ``flock`` on
``<file>.lock`` (an owner-only file; waiting at most ``LOCK_TIMEOUT``, with a log line, while another task
holds it), then opens the file, retrying briefly if a process outside bolsync (e.g. a DuckDB UI) holds
DuckDB's own lock.

A private file (the personal store) is owner-only (0600) whatever the umask: made so before DuckDB opens it
(a file an earlier version left readable), right after (DuckDB creates a new file with the umask's mode, a
header without data) and after it closes. Its write-ahead log, where DuckDB writes new rows first, is created
owner-only before DuckDB first writes it; DuckDB then appends to it, and no checkpoint (which deletes the log,
so that DuckDB would create the next one itself) runs before the connection closes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import duckdb

from bolsync.runs.config import DUCKDB_MEMORY_SETTING, duckdb_memory_limit
from bolsync.runs.staging import FILE_MODE, flock_within, open_private, record_holder

log = logging.getLogger(__name__)

OPEN_ATTEMPTS = 20
#: How long a connection waits for the file's lock (another task's load) before failing with its holder.
LOCK_TIMEOUT = timedelta(minutes=30)
#: No automatic checkpoint while a private file is open (see the module docstring).
_PRIVATE_CONFIG = {"checkpoint_threshold": "1TB"}
#: The DuckDB files this process holds the lock of (a second connection would wait for the first).
_held: Counter[Path] = Counter()


def held_by_this_process(path: Path) -> bool:
    """Whether a connection of this process has ``path`` open now."""
    return _held[path.resolve()] > 0


@contextmanager
def _holding(path: Path) -> Iterator[None]:
    key = path.resolve()
    _held[key] += 1
    try:
        yield
    finally:
        _held[key] -= 1


@contextmanager
def _file_lock(path: Path, timeout: timedelta | None = None) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    fd = open_private(lock_path, os.O_RDWR)
    try:
        waited = flock_within(
            fd,
            fcntl.LOCK_EX,
            LOCK_TIMEOUT if timeout is None else timeout,
            f"the warehouse lock {lock_path}",
            "find that stuck task (or the program that has the file open) and end it, then clear this task",
        )
        if waited > 0.1:
            log.info("Warehouse lock %s acquired after %.1fs.", lock_path, waited)
        record_holder(fd)
        try:
            with _holding(path):
                yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def open_duckdb(
    path: Path, *, private: bool = False, lock_timeout: timedelta | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An exclusive connection to a DuckDB file; closed on exit. ``private``: the file stays owner-only;
    ``lock_timeout``: the longest wait for another process's connection to end (default ``LOCK_TIMEOUT``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path, lock_timeout):
        if private:
            _owner_only(path)
        conn = _open(path, private)
        try:
            if private:
                _owner_only(path, create_log=True)
            yield conn
        finally:
            conn.close()
            if private:
                _owner_only(path)


def _owner_only(path: Path, *, create_log: bool = False) -> None:
    """Make the DuckDB file and its write-ahead log owner-only; ``create_log``: create the (empty) log first."""
    wal = path.with_name(path.name + ".wal")
    if create_log:
        os.close(open_private(wal, os.O_WRONLY))
    for file in (path, wal):
        try:
            if file.stat().st_mode & 0o777 != FILE_MODE:
                file.chmod(FILE_MODE)
        except FileNotFoundError:
            continue


def _open(path: Path, private: bool) -> duckdb.DuckDBPyConnection:
    limit = duckdb_memory_limit()
    settings: dict[str, str | bool | int | float | list[str]] = {"memory_limit": limit}
    if private:
        settings.update(_PRIVATE_CONFIG)
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return duckdb.connect(str(path), config=settings)
        except (duckdb.InvalidInputException, duckdb.ParserException) as error:
            raise ValueError(
                f"[bolsync] {DUCKDB_MEMORY_SETTING} = {limit!r} is not a DuckDB memory size (e.g. 256MB, 2GB): {error}"
            ) from None
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or attempt == OPEN_ATTEMPTS:
                raise
            log.info("DuckDB file %s is locked by another program; retry %d in 1s.", path, attempt)
            time.sleep(1)
    raise AssertionError("unreachable")
