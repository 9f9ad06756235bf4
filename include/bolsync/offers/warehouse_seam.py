"""The offers slice's few points of contact with the warehouse layer (DuckDB or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from bolsync.warehouse.connection import connect_warehouse
from bolsync.warehouse.connection import warehouse_target as warehouse_location

__all__ = ["connect_warehouse", "staged", "staging_anchor", "warehouse_location"]


def staging_anchor(location: Any) -> Path:
    """The file beside which staged files go: the DuckDB file (or the default one for PostgreSQL)."""
    return Path(getattr(location, "staging_anchor", location))


@contextmanager
def staged(conn: Any, frame: pd.DataFrame, like: str) -> Iterator[str]:
    """``frame`` as a relation SQL can join (a DuckDB view, or a PostgreSQL TEMP table typed like ``like``)."""
    with conn.staged(frame, like) as name:
        yield name
