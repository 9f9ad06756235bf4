"""The offers slice's only contact with the warehouse layer, so it works with the DuckDB-only API and with
the generalised one (``bolsync.warehouse.connection``: DuckDB or PostgreSQL) while that lands."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

_names = itertools.count(1)

try:
    _module: Any = importlib.import_module("bolsync.warehouse.connection")
    connect_warehouse: Any = _module.connect_warehouse
    warehouse_location: Any = _module.warehouse_target
except ModuleNotFoundError:  # the DuckDB-only layer
    _module = importlib.import_module("bolsync.warehouse.duckdb_connection")
    connect_warehouse = _module.connect_warehouse
    warehouse_location = _module.warehouse_path


def staging_anchor(location: Any) -> Path:
    """The file beside which staged files go: the DuckDB file (or the default one for PostgreSQL)."""
    anchor = getattr(location, "staging_anchor", location)
    return Path(anchor)


@contextmanager
def staged(conn: Any, frame: pd.DataFrame, like: str) -> Iterator[str]:
    """``frame`` as a relation SQL can join (typed like table ``like`` where the engine needs it)."""
    if hasattr(conn, "staged"):
        with conn.staged(frame, like) as name:
            yield name
        return
    name = f"incoming_offers_{next(_names)}"
    conn.register(name, frame)
    try:
        yield name
    finally:
        conn.unregister(name)
