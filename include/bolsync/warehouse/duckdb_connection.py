"""Short DuckDB connections to the warehouse file, one process at a time.

DuckDB allows one writing process per file. Every bolsync connection first takes an exclusive
``flock`` on ``<file>.lock`` (waiting, with a log line, while another task holds it), then opens the
file, retrying briefly if a process outside bolsync (e.g. a DuckDB UI) holds DuckDB's own lock.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bolsync.runs.config import DUCKDB_MEMORY_SETTING, duckdb_memory_limit

log = logging.getLogger(__name__)

OPEN_ATTEMPTS = 20


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Warehouse %s is in use by another task; waiting for it.", path)
            started = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.info("Warehouse lock acquired after %.1fs.", time.monotonic() - started)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def open_duckdb(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An exclusive connection to the warehouse file; closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path):
        conn = _open(path)
        try:
            yield conn
        finally:
            conn.close()


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    limit = duckdb_memory_limit()
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return duckdb.connect(str(path), config={"memory_limit": limit})
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
