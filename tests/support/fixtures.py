"""Shared pytest fixtures: a fixture-replay HTTP server and ``bol_retailer`` connections in env vars."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bolsync_provider.auth.cache import MemoryTokenCache
from bolsync_provider.budget.rate_budget import SharedRateBudget
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.settings import DEFAULT_ENDPOINT_LIMITS
from tests.support.fixture_server import FixtureServer


@pytest.fixture
def fixture_server() -> Iterator[tuple[FixtureServer, str]]:
    server = FixtureServer()
    url = server.start()
    yield server, url
    server.stop()


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define a connection through ``AIRFLOW_CONN_<ID>`` JSON, as a deployment would."""

    def define(
        conn_id: str,
        *,
        conn_type: str = "bol_retailer",
        login: str | None = "client-x",
        password: str | None = "secret-value-xyz",
        **extra: Any,
    ) -> str:
        payload: dict[str, Any] = {"conn_type": conn_type, "extra": extra}
        if login is not None:
            payload["login"] = login
        if password is not None:
            payload["password"] = password
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))
        return conn_id

    return define


def fast_budget() -> SharedRateBudget:
    limits = {k: (10_000, 1.0) for k in DEFAULT_ENDPOINT_LIMITS}
    return SharedRateBudget(MemorySharedState(), "cred:test", "test", 1000, 1_000_000, limits)


@pytest.fixture
def make_hook(set_connection: Callable[..., str]) -> Callable[..., BolRetailerHook]:
    """A hook on a fresh connection pointing at ``base_url``, with an in-memory token cache."""

    def build(
        base_url: str, conn_id: str = "bol_test", cache: MemoryTokenCache | None = None, **extra: Any
    ) -> BolRetailerHook:
        set_connection(conn_id, api_url=base_url, login_url=f"{base_url}/token", max_attempts=4, **extra)
        return BolRetailerHook(
            conn_id, token_cache=cache or MemoryTokenCache(), budget=fast_budget(), state=MemorySharedState()
        )

    return build
