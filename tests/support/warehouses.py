"""Warehouse fixtures for both engines: a DuckDB file, or a throwaway PostgreSQL database.

``warehouse`` is parametrized over ``duckdb`` and ``postgres``: every test using it runs on both. Each test
module gets its own temporary PostgreSQL database (created from ``postgres_url()``, dropped afterwards);
each test starts on an empty one (schema ``bol`` dropped). Under CI=true a missing server fails the run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.support.services import postgres_url

BACKENDS = ["duckdb", "postgres"]


def _with_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def temporary_postgres_database(prefix: str = "bolsync_test") -> Iterator[str]:
    """A fresh database on the test server; its URL. Dropped (connections forced out) afterwards."""
    import psycopg

    server = postgres_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bol CASCADE")


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseTarget:
    """An empty warehouse on each engine (migrated on first connect)."""
    if request.param == "duckdb":
        return as_target(tmp_path / "warehouse.duckdb")
    url: str = request.getfixturevalue("postgres_database")
    reset_postgres(url)
    return as_target(url)
