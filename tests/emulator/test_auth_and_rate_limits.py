"""Expired tokens, inactive accounts, per-endpoint rate limits and their headers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import jwt
import pytest

from bol_emulator import EmulatorHandle, start_emulator
from tests.emulator.conftest import Api, small_config

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
EXPIRED_DETAIL = re.compile(
    r"^JWT expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\. Current time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, "
    r"a difference of \d+ milliseconds\.  Allowed clock skew: 1000 milliseconds\.$"
)


def test_expired_token_is_401_expired_jwt(api: Api, emulator: EmulatorHandle) -> None:
    account = emulator.config.accounts[0]
    old = emulator.emulator.tokens.issue(account, 300, now=time.time() - 400)
    response = api.get("/retailer/orders", token=old)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"title", "status", "detail"}
    assert body["title"] == "Expired JWT"
    assert body["status"] == 401
    assert EXPIRED_DETAIL.match(body["detail"]), body["detail"]
    match = re.search(r"difference of (\d+)", body["detail"])
    assert match is not None
    difference = int(match.group(1))
    assert 99_000 <= difference <= 102_000
    for name in RATE_HEADERS:
        assert name in response.headers


def test_clock_skew_of_one_second_is_allowed(api: Api, emulator: EmulatorHandle) -> None:
    account = emulator.config.accounts[0]
    just_expired = emulator.emulator.tokens.issue(account, 300, now=int(time.time()) - 300)  # exp <= now
    assert api.get("/retailer/orders", token=just_expired).status_code == 200


def test_short_lived_token_expires(api: Api) -> None:
    api.fault(kind="token_lifetime", seconds=1)
    body = api.token_response().json()
    assert body["expires_in"] == 0
    assert api.get("/retailer/orders", token=body["access_token"]).status_code == 200
    issued_at = jwt.decode(body["access_token"], options={"verify_signature": False})["iat"]
    time.sleep(max(0.0, issued_at + 2.05 - time.time()))  # exp = iat + 1, plus the 1000 ms skew
    response = api.get("/retailer/orders", token=body["access_token"])
    assert response.status_code == 401
    assert response.json()["title"] == "Expired JWT"


def test_token_signed_by_another_key_is_unauthorized(api: Api) -> None:
    with start_emulator(small_config()) as other:
        foreign = Api(other).token
    response = api.get("/retailer/orders", token=foreign)
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"


@pytest.fixture(scope="module")
def strict_emulator() -> Iterator[EmulatorHandle]:
    """An emulator with bol's real limits (rate_scale 1)."""
    with start_emulator(small_config(rate_scale=1.0)) as handle:
        yield handle


@pytest.fixture
def strict(strict_emulator: EmulatorHandle) -> Api:
    strict_emulator.reset()
    return Api(strict_emulator)


def test_orders_list_limit_is_25_per_minute(strict: Api) -> None:
    responses = [strict.orders() for _ in range(25)]
    assert [r.status_code for r in responses] == [200] * 25
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses] == list(range(24, -1, -1))
    assert all(r.headers["X-RateLimit-Limit"] == "25" for r in responses)
    throttled = strict.orders()
    assert throttled.status_code == 429
    assert throttled.headers["Content-Type"].startswith("application/vnd.retailer.v10+json")
    seconds = int(throttled.headers["Retry-After"])
    assert 55 <= seconds <= 60
    assert throttled.json() == {
        "title": "Too Many Requests",
        "status": 429,
        "detail": f"Too many requests, retry in {seconds} seconds.",
    }
    for name in RATE_HEADERS:
        assert name in throttled.headers
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert int(throttled.headers["X-RateLimit-Reset"]) == seconds
    # the detail endpoint has its own window
    order_id = strict.truth()[0]["order_id"]
    assert strict.get(f"/retailer/orders/{order_id}").status_code == 200
    stats = strict.control("GET", "/stats").json()
    assert stats["throttled"] == {"demo-client-a": 1}


def test_429_without_retry_after(strict: Api) -> None:
    strict.control("POST", "/config", json={"retry_after": False})
    for _ in range(25):
        strict.orders()
    throttled = strict.orders()
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers
    assert throttled.json()["detail"].startswith("Too many requests, retry in ")


def test_detail_limit_is_25_per_second_and_frees_up(strict: Api) -> None:
    order_id = strict.truth()[0]["order_id"]
    statuses = [strict.get(f"/retailer/orders/{order_id}").status_code for _ in range(26)]
    if statuses[-1] == 200:  # the loop straddled a window boundary; a burst must still hit the limit
        statuses = [strict.get(f"/retailer/orders/{order_id}").status_code for _ in range(26)]
    assert 429 in statuses
    time.sleep(1.05)
    assert strict.get(f"/retailer/orders/{order_id}").status_code == 200


def test_rate_scale_is_runtime_configurable(strict: Api) -> None:
    assert strict.control("POST", "/config", json={"rate_scale": 2}).json()["rate_scale"] == 2
    assert strict.orders().headers["X-RateLimit-Limit"] == "50"
    assert strict.control("POST", "/config", json={"rate_scale": 0}).status_code == 400
    assert strict.control("POST", "/config", json={"bogus": 1}).status_code == 400


def test_limits_are_per_client(strict: Api) -> None:
    for _ in range(25):
        strict.orders()
    assert strict.orders().status_code == 429
    other = Api(strict.handle, ("demo-client-b", "demo-secret-b"))
    assert other.orders().status_code == 200


def test_inactive_account_is_403(api: Api) -> None:
    api.fault(kind="inactive", client_id="demo-client-a")
    response = api.orders()
    assert response.status_code == 403
    assert response.json() == {
        "title": "Forbidden",
        "status": 403,
        "detail": "Account is not active, access denied. Please contact partnerservice if this is unexpected.",
        "host": "Instance-001",
    }
    for name in RATE_HEADERS:
        assert name in response.headers
    assert Api(api.handle, ("demo-client-b", "demo-secret-b")).orders().status_code == 200
    api.control("DELETE", "/faults")
    assert api.orders().status_code == 200
