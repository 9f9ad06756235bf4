"""Short DuckDB connections to the warehouse file, one process at a time (the DuckDB side of ``connection``).

DuckDB allows one writing process per file. Every bolsync connection first takes an exclusive
``flock`` on ``<file>.lock`` (waiting, with a log line, while another task holds it), then opens the
file, retrying briefly if a process outside bolsync (e.g. a DuckDB UI) holds DuckDB's own lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bolsync.warehouse.connection import DEFAULT_DATABASE, WAREHOUSE_CONN_ID, connect_warehouse

log = logging.getLogger(__name__)

OPEN_ATTEMPTS = 20
#: DuckDB's own default is 80 % of the machine's RAM, per task process; a worker runs several.
DEFAULT_MEMORY_LIMIT = "512MB"
__all__ = ["DEFAULT_DATABASE", "WAREHOUSE_CONN_ID", "connect_warehouse", "open_duckdb"]


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


def memory_limit() -> str:
    """DuckDB's memory limit per connection: ``[bolsync] duckdb_memory_limit`` (e.g. ``1GB``), default 512MB.

    Beyond it DuckDB evicts or spills to ``<file>.tmp``; the orders load streams, so it needs little.
    """
    value = os.environ.get("AIRFLOW__BOLSYNC__DUCKDB_MEMORY_LIMIT")
    if value is None:
        try:
            from airflow.configuration import conf

            value = conf.get("bolsync", "duckdb_memory_limit", fallback=None)
        except ImportError:  # outside Airflow (scripts, benchmarks)
            value = None
    return value or DEFAULT_MEMORY_LIMIT


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    limit = memory_limit()
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return duckdb.connect(str(path), config={"memory_limit": limit})
        except (duckdb.InvalidInputException, duckdb.ParserException) as error:
            raise ValueError(
                f"[bolsync] duckdb_memory_limit = {limit!r} is not a DuckDB memory size (e.g. 256MB, 2GB): {error}"
            ) from None
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or attempt == OPEN_ATTEMPTS:
                raise
            log.info("DuckDB file %s is locked by another program; retry %d in 1s.", path, attempt)
            time.sleep(1)
    raise AssertionError("unreachable")
