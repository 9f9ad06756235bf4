"""Per-endpoint rate limits of the business endpoints (bol's published rules, third-party copy): returns 20/min,
shipments 25/min, shipment detail 50/min, inventory 20/min, invoices 24/min, and one window where one rule
covers several paths (``/retailer/invoices/*``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bol_emulator import EmulatorHandle, start_emulator
from bol_emulator.ratelimit import RateLimiter
from tests.emulator.business_helpers import table
from tests.emulator.conftest import Api, small_config

LIMITS = {
    "GET /retailer/returns": 20,
    "GET /retailer/returns/{return-id}": 20,
    "GET /retailer/shipments": 25,
    "GET /retailer/shipments/{shipment-id}": 50,
    "GET /retailer/inventory": 20,
    "GET /retailer/invoices": 24,
    "GET /retailer/invoices/{invoice-id}": 24,
    "GET /retailer/invoices/{invoice-id}/specification": 24,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("endpoint", "capacity"), list(LIMITS.items()))
def test_each_endpoint_allows_its_published_number_a_minute(endpoint: str, capacity: int) -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert all(limiter.check("c", endpoint, 1.0).allowed for _ in range(capacity))
    blocked = limiter.check("c", endpoint, 1.0)
    assert not blocked.allowed
    assert blocked.reset == 60
    clock.now += 60
    assert limiter.check("c", endpoint, 1.0).allowed


def test_invoice_detail_and_specification_share_one_window() -> None:
    limiter = RateLimiter(Clock())
    for _ in range(12):
        assert limiter.check("c", "GET /retailer/invoices/{invoice-id}", 1.0).allowed
        assert limiter.check("c", "GET /retailer/invoices/{invoice-id}/specification", 1.0).allowed
    assert not limiter.check("c", "GET /retailer/invoices/{invoice-id}", 1.0).allowed
    assert not limiter.check("c", "GET /retailer/invoices/{invoice-id}/specification", 1.0).allowed
    assert limiter.check("c", "GET /retailer/invoices", 1.0).allowed
    assert limiter.check("other", "GET /retailer/invoices/{invoice-id}", 1.0).allowed


def test_the_returns_list_and_detail_are_separate_rules() -> None:
    limiter = RateLimiter(Clock())
    for _ in range(20):
        assert limiter.check("c", "GET /retailer/returns", 1.0).allowed
    assert not limiter.check("c", "GET /retailer/returns", 1.0).allowed
    assert limiter.check("c", "GET /retailer/returns/{return-id}", 1.0).allowed


@pytest.fixture(scope="module")
def unscaled() -> Iterator[EmulatorHandle]:
    with start_emulator(small_config(rate_scale=1.0)) as handle:
        yield handle


def test_over_http_a_429_with_retry_after(unscaled: EmulatorHandle) -> None:
    unscaled.reset()
    api = Api(unscaled)
    invoice_id = table(api, "invoices")[-1]["invoice_id"]
    statuses = []
    for n in range(25):
        path = f"/retailer/invoices/{invoice_id}" + ("/specification" if n % 2 else "")
        statuses.append(api.get(path).status_code)
    assert statuses == [200] * 24 + [429]
    throttled = api.get(f"/retailer/invoices/{invoice_id}/specification")
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.headers["X-RateLimit-Limit"] == "24"
    assert throttled.json()["detail"].startswith("Too many requests")
    assert api.get("/retailer/invoices").status_code == 200
    assert api.get("/retailer/returns").headers["X-RateLimit-Limit"] == "20"
