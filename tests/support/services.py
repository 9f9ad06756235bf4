"""The machine's PostgreSQL and Redis servers for tests: fail under CI=true when missing, skip elsewhere."""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get("BOLSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BOLSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail (CI=true) or skip (a developer machine without the server) when ``host:port`` is down."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}; start it (see .ci/run) or set BOLSYNC_TEST_*_URL."
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def postgres_url() -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(POSTGRES_URL)
    require_service("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    return POSTGRES_URL


def redis_url() -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(REDIS_URL)
    require_service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return REDIS_URL
