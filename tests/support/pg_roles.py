"""Throwaway PostgreSQL roles for grant tests (roles are server-wide: always dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from bolsync.personal.postgres import quote


@contextmanager
def temporary_role(url: str, prefix: str = "bolsync_test_") -> Iterator[str]:
    """A NOLOGIN role; afterwards its grants and default privileges in ``url``'s database and the role go."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {quote(name)} NOLOGIN")
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM {quote(name)}")
            admin.execute(f"ALTER DEFAULT PRIVILEGES REVOKE ALL ON SCHEMAS FROM {quote(name)}")
            admin.execute(f"DROP OWNED BY {quote(name)}")
            admin.execute(f"DROP ROLE {quote(name)}")


def as_role(url: str, role: str, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` run with the privileges of ``role`` (the test user is a superuser, so it may ``SET ROLE``)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {quote(role)}")
        return conn.execute(sql).fetchall()
