"""Fixtures: emulators started in-process on a free port, and a small ``requests`` client for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bol_emulator import EmulatorConfig, EmulatorHandle, start_emulator

V10 = "application/vnd.retailer.v10+json"
CLIENT_A = ("demo-client-a", "demo-secret-a")
CLIENT_B = ("demo-client-b", "demo-secret-b")


class Api:
    """A thin client: fetches a token, then calls the API and the control endpoints."""

    def __init__(self, handle: EmulatorHandle, credentials: tuple[str, str] = CLIENT_A) -> None:
        self.handle = handle
        self.credentials = credentials
        self.session = requests.Session()
        self._token: str | None = None

    def token_response(self, credentials: tuple[str, str] | None = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("data", {"grant_type": "client_credentials"})
        return self.session.post(
            self.handle.token_url,
            auth=credentials or self.credentials,
            headers={"Accept": "application/json"},
            timeout=10,
            **kwargs,
        )

    @property
    def token(self) -> str:
        if self._token is None:
            response = self.token_response()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        token: str | None = None,
        accept: str = V10,
        **kwargs: Any,
    ) -> requests.Response:
        headers = {"Accept": accept, "Authorization": f"Bearer {token or self.token}"}
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.handle.base_url + path, params=params, headers=headers, **kwargs)

    def orders(self, **params: Any) -> requests.Response:
        return self.get("/retailer/orders", params=params)

    def all_orders(self, **params: Any) -> list[dict[str, Any]]:
        """Every ReducedOrder over all pages."""
        result: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.orders(page=page, **params)
            assert response.status_code == 200, response.text
            orders = response.json().get("orders", [])
            if not orders:
                return result
            result.extend(orders)
            page += 1

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.handle.base_url + "/_emulator" + path, timeout=10, **kwargs)

    def truth(self, client_id: str = CLIENT_A[0]) -> list[dict[str, Any]]:
        response = self.control("GET", f"/accounts/{client_id}/order-items")
        assert response.status_code == 200
        return response.json()

    def fault(self, **rule: Any) -> None:
        response = self.control("POST", "/faults", json=rule)
        assert response.status_code == 201, response.text

    def world(self, action: str, count: int = 1, client_id: str = CLIENT_A[0], **extra: Any) -> dict[str, Any]:
        response = self.control(
            "POST", "/world", json={"client_id": client_id, "action": action, "count": count, **extra}
        )
        assert response.status_code == 200, response.text
        return response.json()


def small_config(**overrides: Any) -> EmulatorConfig:
    """A small world (fast to generate) with generous rate limits unless overridden."""
    values: dict[str, Any] = {"seed": 7, "orders_per_day": 12, "history_days": 10, "rate_scale": 100.0}
    values.update(overrides)
    return EmulatorConfig(**values)


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorHandle]:
    """One small emulator per test module (its RSA key takes a while to generate)."""
    with start_emulator(small_config()) as handle:
        yield handle


@pytest.fixture
def emulator(shared_emulator: EmulatorHandle) -> EmulatorHandle:
    """The module's emulator, reset to its seeded start state, so state never leaks between tests."""
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture
def api(emulator: EmulatorHandle) -> Api:
    return Api(emulator)


@pytest.fixture(scope="module")
def big_emulator() -> Iterator[EmulatorHandle]:
    """A default-sized emulator shared by read-only tests of one module."""
    with start_emulator(EmulatorConfig(seed=11, rate_scale=1000.0)) as handle:
        yield handle


@pytest.fixture
def big_api(big_emulator: EmulatorHandle) -> Api:
    return Api(big_emulator)
