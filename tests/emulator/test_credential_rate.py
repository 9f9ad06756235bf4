"""The credential-wide rate limit (one window over all API calls of a client id) and the request timeline."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from bol_emulator import EmulatorHandle, start_emulator
from bol_emulator.__main__ import parse_args
from bol_emulator.ratelimit import Limit, credential_limit
from bol_emulator.timeline import Timeline
from tests.emulator.conftest import CLIENT_B, Api, small_config


@pytest.fixture(scope="module")
def limited() -> Iterator[EmulatorHandle]:
    with start_emulator(small_config(credential_rate_per_second=4)) as handle:
        yield handle


@pytest.fixture
def lapi(limited: EmulatorHandle) -> Api:
    limited.reset()
    api = Api(limited)
    api.token  # noqa: B018 - token requests do not count towards the API window
    return api


def an_order_id(api: Api) -> str:
    return api.truth()[0]["order_id"]


def test_all_endpoints_share_one_window(lapi: Api) -> None:
    order_id = an_order_id(lapi)
    statuses = [
        lapi.orders().status_code,
        lapi.get(f"/retailer/orders/{order_id}").status_code,
        lapi.orders().status_code,
        lapi.get(f"/retailer/orders/{order_id}").status_code,
    ]
    throttled = lapi.get(f"/retailer/orders/{order_id}")
    assert statuses == [200] * 4
    assert throttled.status_code == 429
    assert throttled.json() == {
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Too many requests, retry in 1 seconds.",
    }
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.headers["X-RateLimit-Limit"] == "4"
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    # another client id has its own window
    assert Api(lapi.handle, CLIENT_B).orders().status_code == 200
    # the window slides: a second later there is room again
    time.sleep(1.05)
    assert lapi.orders().status_code == 200
    stats = lapi.control("GET", "/stats").json()
    assert stats["throttled"] == {"demo-client-a": 1}


def test_throttled_requests_do_not_use_up_the_window(lapi: Api) -> None:
    for _ in range(4):
        assert lapi.orders().status_code == 200
    started = time.monotonic()
    for _ in range(3):
        assert lapi.orders().status_code == 429
    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    assert [lapi.orders().status_code for _ in range(4)] == [200] * 4


def test_endpoint_limits_still_apply(lapi: Api) -> None:
    lapi.control("POST", "/config", json={"rate_scale": 0.04})  # orders list: 25/minute -> 1/minute
    assert lapi.orders().status_code == 200
    second = lapi.orders()
    assert second.status_code == 429
    assert second.headers["X-RateLimit-Limit"] == "1"
    assert int(second.headers["Retry-After"]) > 1  # the endpoint window (a minute), not the credential one
    order_id = an_order_id(lapi)
    assert lapi.get(f"/retailer/orders/{order_id}").status_code == 200  # detail: 1/second, credential: 4/second


def test_no_retry_after_and_runtime_config(lapi: Api) -> None:
    config = lapi.control("POST", "/config", json={"credential_rate_per_second": 1, "retry_after": False}).json()
    assert config["credential_rate_per_second"] == 1.0
    assert lapi.orders().status_code == 200
    throttled = lapi.orders()
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers
    lapi.control("POST", "/config", json={"credential_rate_per_second": None})
    assert [lapi.orders().status_code for _ in range(6)] == [200] * 6
    bad = lapi.control("POST", "/config", json={"credential_rate_per_second": 0})
    assert bad.status_code == 400


def test_off_by_default(api: Api) -> None:
    assert api.control("GET", "/config").json()["credential_rate_per_second"] is None
    assert [api.orders().status_code for _ in range(30)] == [200] * 30


def test_fractional_rates() -> None:
    assert credential_limit(None) is None
    assert credential_limit(4) == Limit(4, 1.0)
    assert credential_limit(0.5) == Limit(1, 2.0)
    assert credential_limit(2.5) == Limit(3, 1.2)


def test_fractional_rate_over_http(lapi: Api) -> None:
    lapi.control("POST", "/config", json={"credential_rate_per_second": 0.5})
    assert lapi.orders().status_code == 200
    throttled = lapi.orders()
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"


def test_cli_option() -> None:
    assert parse_args(["--credential-rate", "2.5"]).credential_rate_per_second == 2.5
    assert parse_args([]).credential_rate_per_second is None
    with pytest.raises(SystemExit):
        parse_args(["--credential-rate", "0"])


def test_timeline_records_api_and_token_requests(lapi: Api) -> None:
    lapi.control("POST", "/stats/reset")
    started = time.time()
    lapi.token_response()
    statuses = [lapi.orders().status_code for _ in range(6)]
    lapi.get("/retailer/nothing-here")
    finished = time.time()
    assert statuses == [200] * 4 + [429] * 2
    timeline = lapi.control("GET", "/stats/timeline", params={"client_id": "demo-client-a"}).json()
    assert set(timeline) == {"client_id", "api", "token", "not_recorded"}
    assert timeline["client_id"] == "demo-client-a"
    assert timeline["not_recorded"] == 0
    assert [(e["status"], e["answered_429"]) for e in timeline["token"]] == [(200, False)]
    api_entries = timeline["api"]
    assert [e["status"] for e in api_entries] == [200] * 4 + [429] * 2 + [404]
    assert [e["answered_429"] for e in api_entries] == [False] * 4 + [True] * 2 + [False]
    times = [e["t"] for e in timeline["token"] + api_entries]
    assert all(started <= t <= finished for t in times)
    assert [e["t"] for e in api_entries] == sorted(e["t"] for e in api_entries)
    assert timeline["token"][0]["t"] < api_entries[0]["t"]
    other = lapi.control("GET", "/stats/timeline", params={"client_id": "demo-client-b"}).json()
    assert other["api"] == other["token"] == []
    lapi.control("POST", "/stats/reset")
    assert lapi.control("GET", "/stats/timeline", params={"client_id": "demo-client-a"}).json()["api"] == []
    assert lapi.control("GET", "/stats/timeline").status_code == 400


def test_timeline_marks_injected_429_and_dropped(lapi: Api) -> None:
    lapi.control("POST", "/stats/reset")
    lapi.fault(kind="burst_429", path_prefix="/retailer")
    lapi.fault(kind="drop_connection", path_prefix="/retailer")
    assert lapi.orders().status_code == 429
    with pytest.raises(requests.ConnectionError):
        lapi.orders()
    entries = lapi.control("GET", "/stats/timeline", params={"client_id": "demo-client-a"}).json()["api"]
    assert [(e["status"], e["answered_429"]) for e in entries] == [(429, True), (0, False)]


def test_timeline_is_bounded() -> None:
    timeline = Timeline(limit=3)
    for index in range(5):
        timeline.record("c", "api" if index % 2 else "token", 100.0 + index, 200)
    result = timeline.of("c")
    assert len(result["api"]) + len(result["token"]) == 3
    assert result["not_recorded"] == 2
    timeline.reset()
    assert timeline.of("c")["not_recorded"] == 0
