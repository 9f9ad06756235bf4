"""Injected faults: each kind, matching by client and path, consumption in order, clearing."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests.emulator.conftest import CLIENT_B, Api


def test_server_error_is_html_and_consumed(api: Api) -> None:
    api.token  # noqa: B018 - fetch the token before the fault
    api.fault(kind="server_error", count=2)
    for _ in range(2):
        response = api.orders()
        assert response.status_code == 500
        assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert response.text == "Internal Server Error\n"
    assert api.orders().status_code == 200


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors(api: Api, status: int) -> None:
    api.fault(kind="server_error", status=status, path_prefix="/retailer")
    response = api.orders()
    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert f"<h1>{status} " in response.text


def test_drop_connection(api: Api) -> None:
    api.token  # noqa: B018
    api.fault(kind="drop_connection", path_prefix="/retailer/orders")
    with pytest.raises(requests.ConnectionError):
        api.orders()
    assert api.orders().status_code == 200
    assert api.control("GET", "/stats").json()["requests"]["GET /retailer/orders"] == {"dropped": 1, "200": 1}


def test_slow(api: Api) -> None:
    api.token  # noqa: B018
    api.fault(kind="slow", seconds=0.6)
    started = time.monotonic()
    assert api.orders().status_code == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    api.orders()
    assert time.monotonic() - started < 0.5
    api.fault(kind="slow", seconds=1.0)
    with pytest.raises(requests.Timeout):
        api.get("/retailer/orders", timeout=0.3)


@pytest.mark.parametrize("retry_after", [True, False])
def test_burst_429(api: Api, retry_after: bool) -> None:
    api.token  # noqa: B018
    api.fault(kind="burst_429", count=3, retry_after=retry_after, seconds=2)
    for _ in range(3):
        response = api.orders()
        assert response.status_code == 429
        assert response.json()["detail"] == "Too many requests, retry in 2 seconds."
        assert ("Retry-After" in response.headers) is retry_after
        if retry_after:
            assert response.headers["Retry-After"] == "2"
        assert "X-RateLimit-Limit" in response.headers
    assert api.orders().status_code == 200
    stats = api.control("GET", "/stats").json()
    assert stats["faults"] == {"burst_429": 3}
    assert stats["throttled"] == {}


def test_faults_match_client_and_path(api: Api) -> None:
    other = Api(api.handle, CLIENT_B)
    api.token, other.token  # noqa: B018
    api.fault(kind="server_error", client_id="demo-client-b", path_prefix="/retailer/orders/")
    assert api.get("/retailer/orders/X").status_code == 404
    assert other.orders().status_code == 200
    assert other.get("/retailer/orders/X").status_code == 500
    assert other.get("/retailer/orders/X").status_code == 404


def test_rules_are_consumed_in_order(api: Api) -> None:
    api.token  # noqa: B018
    api.fault(kind="server_error", status=503, path_prefix="/retailer")
    api.fault(kind="burst_429", path_prefix="/retailer")
    assert [api.orders().status_code for _ in range(3)] == [503, 429, 200]


def test_faults_apply_to_the_token_endpoint(api: Api) -> None:
    api.fault(kind="server_error", status=503, path_prefix="/token")
    assert api.token_response().status_code == 503
    assert api.token_response().status_code == 200


def test_revoke(api: Api) -> None:
    token = api.token
    api.fault(kind="revoke", client_id="demo-client-a")
    response = api.token_response()
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Bad client credentials"}
    assert api.get("/retailer/orders", token=token).status_code == 200  # issued tokens keep working
    assert api.token_response(CLIENT_B).status_code == 200
    api.control("DELETE", "/faults")
    assert api.token_response().status_code == 200


def test_list_and_clear_faults(api: Api) -> None:
    api.fault(kind="slow", seconds=1, count=5, path_prefix="/retailer")
    api.fault(kind="inactive", client_id="demo-client-b")
    api.fault(kind="token_lifetime", seconds=60)
    listed = api.control("GET", "/faults").json()
    assert listed["rules"][0]["kind"] == "slow"
    assert listed["rules"][0]["count"] == 5
    assert listed["inactive"] == ["demo-client-b"]
    assert api.token_response().json()["expires_in"] == 59
    cleared = api.control("DELETE", "/faults").json()
    assert cleared == {
        "rules": [],
        "revoked": [],
        "inactive": [],
        "token_lifetime": {},
        "export_outcomes": [],
        "csv_columns": [],
    }
    assert api.token_response().json()["expires_in"] == 299


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "nope"},
        {"kind": "server_error", "status": 418},
        {"kind": "revoke"},
        {"kind": "slow", "count": 0},
        {"kind": "slow", "seconds": "x"},
    ],
)
def test_malformed_faults_are_400(api: Api, rule: dict) -> None:
    assert api.control("POST", "/faults", json=rule).status_code == 400


def test_respond_serves_a_canned_answer_then_the_real_one(api: Api) -> None:
    api.fault(
        kind="respond",
        path_prefix="/token",
        count=2,
        status=200,
        headers={"Content-Type": "application/json", "X-Odd": "yes"},
        body='{"access_token": "a.b.c\\n", "token_type": "Bearer", "expires_in": 299}',
    )
    for _ in range(2):
        response = api.token_response()
        assert response.status_code == 200
        assert response.headers["X-Odd"] == "yes"
        assert response.json()["access_token"] == "a.b.c\n"
    assert api.token_response().json()["access_token"].startswith("ey")
    assert api.control("GET", "/stats").json()["faults"] == {"respond": 2}


def test_respond_takes_raw_bytes_and_any_status(api: Api) -> None:
    api.token  # noqa: B018
    raw = b"\xff\xfe not UTF-8 \x00"
    api.fault(
        kind="respond",
        path_prefix="/retailer/orders",
        status=302,
        headers={"Location": "https://elsewhere.example/x"},
        body_base64=base64.b64encode(raw).decode(),
    )
    response = api.get("/retailer/orders", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://elsewhere.example/x"
    assert response.content == raw
    assert "X-RateLimit-Limit" in response.headers  # the emulator's rate headers are added as usual
    assert api.orders().status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "respond", "status": 600},
        {"kind": "respond", "status": 99},
        {"kind": "respond", "headers": {"Content-Length": "5"}},
        {"kind": "respond", "headers": {"X-A": "one\r\nX-B: two"}},
        {"kind": "respond", "headers": {"X-A": 1}},
        {"kind": "respond", "body": {"not": "text"}},
        {"kind": "respond", "body_base64": "not base64!"},
        {"kind": "respond", "body": "x", "body_base64": "eA=="},
    ],
)
def test_malformed_canned_answers_are_400(api: Api, rule: dict) -> None:
    response = api.control("POST", "/faults", json=rule)
    assert response.status_code == 400
    assert response.json()["error"]


ALL = {"fulfilment-method": "ALL", "status": "ALL"}


def test_repeat_page_answers_the_page_before_then_the_real_one(api: Api) -> None:
    api.world("new_orders", 60)
    first, second = (api.orders(page=n, **ALL).json()["orders"] for n in (1, 2))
    assert len(first) == 50
    assert second
    assert not {o["orderId"] for o in first} & {o["orderId"] for o in second}
    api.fault(kind="repeat_page", client_id="demo-client-a")
    assert api.orders(page=1, **ALL).json()["orders"] == first  # other pages are untouched
    assert api.orders(page=2, **ALL).json()["orders"] == first
    assert api.orders(page=2, **ALL).json()["orders"] == second
    assert api.control("GET", "/stats").json()["faults"] == {"repeat_page": 1}
    assert "page_faults" not in api.control("GET", "/faults").json()


def test_repeat_page_always_for_one_client_and_page(api: Api) -> None:
    other = Api(api.handle, CLIENT_B)
    for client_id in ("demo-client-a", "demo-client-b"):
        api.world("new_orders", 120, client_id=client_id)
    pages = {n: other.orders(page=n, **ALL).json() for n in (1, 2, 3)}
    assert pages[2] != pages[3]
    mine = api.orders(page=3, **ALL).json()
    assert mine.get("orders")
    api.fault(kind="repeat_page", page=3, count="always", client_id="demo-client-b")
    assert [other.orders(page=3, **ALL).json() for _ in range(3)] == [pages[2]] * 3
    assert other.orders(page=2, **ALL).json() == pages[2]
    assert api.orders(page=3, **ALL).json() == mine  # client A is untouched
    rules = api.control("GET", "/faults").json()["page_faults"]
    assert rules == [{"kind": "repeat_page", "page": 3, "count": "always", "client_id": "demo-client-b"}]
    api.control("DELETE", "/faults")
    assert other.orders(page=3, **ALL).json() == pages[3]


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "repeat_page", "page": 1},
        {"kind": "repeat_page", "page": "2"},
        {"kind": "repeat_page", "count": 0},
        {"kind": "repeat_page", "count": "never"},
    ],
)
def test_malformed_repeat_page_faults_are_400(api: Api, rule: dict) -> None:
    assert api.control("POST", "/faults", json=rule).status_code == 400
