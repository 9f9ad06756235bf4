"""The authorization-code flow: codes, the exchange, refresh-token rotation, revocation and its errors."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import jwt
import pytest
import requests

from bol_emulator import EmulatorHandle
from tests.emulator.conftest import CLIENT_A, CLIENT_B, Api

REDIRECT = "https://partner.example/callback"


def new_code(api: Api, client_id: str = CLIENT_A[0], **extra: Any) -> str:
    body = {"client_id": client_id, "redirect_uri": REDIRECT, **extra}
    response = api.control("POST", "/authorization-codes", json=body)
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"code"}
    return response.json()["code"]


def exchange(api: Api, code: str, redirect_uri: str = REDIRECT, credentials: Any = None) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return api.token_response(credentials, data=data)


def refresh(api: Api, token: str, credentials: Any = None) -> requests.Response:
    return api.token_response(credentials, data={"grant_type": "refresh_token", "refresh_token": token})


def assert_invalid_grant(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_exchange_answers_bol_shaped_tokens(api: Api, emulator: EmulatorHandle) -> None:
    response = exchange(api, new_code(api))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "offline_access"
    assert body["expires_in"] == 599
    claims = jwt.decode(
        body["access_token"], emulator.emulator.tokens.public_key, algorithms=["RS256"], options={"verify_aud": False}
    )
    assert claims["exp"] - claims["iat"] == 600
    assert claims["aid"].endswith(" SLR:1000001")
    header, payload, signature = body["refresh_token"].split(".")
    assert signature == ""
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "none"}
    refresh_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert set(refresh_claims) == {"exp", "jti"}
    assert refresh_claims["exp"] > time.time() + 364 * 24 * 3600
    # the access token works on the API, for that account's retailer
    orders = api.get("/retailer/orders", token=body["access_token"])
    assert orders.status_code == 200
    mine = {row["order_id"] for row in api.truth()}
    assert {o["orderId"] for o in orders.json()["orders"]} <= mine


def test_code_flow_token_of_account_b_sees_only_b(api: Api) -> None:
    body = exchange(api, new_code(api, CLIENT_B[0]), credentials=CLIENT_B).json()
    listed = {o["orderId"] for o in api.get("/retailer/orders", token=body["access_token"]).json()["orders"]}
    assert listed
    assert listed <= {row["order_id"] for row in api.truth(CLIENT_B[0])}


def test_code_is_one_time_and_reuse_revokes_the_authorization(api: Api) -> None:
    code = new_code(api)
    first = exchange(api, code).json()
    assert_invalid_grant(exchange(api, code))
    assert_invalid_grant(refresh(api, first["refresh_token"]))
    states = {a["code"]: a["state"] for a in api.control("GET", "/authorization-codes").json()}
    assert states[code] == "revoked"


@pytest.mark.parametrize(
    ("code", "redirect_uri", "credentials"),
    [
        ("unknown-code", REDIRECT, None),
        (None, "https://partner.example/other", None),
        (None, REDIRECT, CLIENT_B),  # a code issued to another client
    ],
    ids=["unknown", "redirect-mismatch", "other-client"],
)
def test_bad_codes_are_invalid_grant(api: Api, code: str | None, redirect_uri: str, credentials: Any) -> None:
    real = new_code(api)
    assert_invalid_grant(exchange(api, code or real, redirect_uri, credentials))


def test_code_expires(api: Api) -> None:
    code = new_code(api, expires_in=0.3)
    time.sleep(0.4)
    assert_invalid_grant(exchange(api, code))


def test_default_code_lifetime_is_ten_minutes(api: Api, emulator: EmulatorHandle) -> None:
    code = new_code(api)
    grant = emulator.emulator.code_flow.by_code[code]
    assert 599 <= grant.code_expires_at - time.time() <= 600


def test_rotating_refresh_only_newest_is_valid(api: Api) -> None:
    first = exchange(api, new_code(api)).json()["refresh_token"]
    second_body = refresh(api, first).json()
    assert set(second_body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    second = second_body["refresh_token"]
    assert second != first
    assert api.get("/retailer/orders", token=second_body["access_token"]).status_code == 200
    assert_invalid_grant(refresh(api, first))  # the old one is dead at once
    third = refresh(api, second).json()["refresh_token"]
    assert_invalid_grant(refresh(api, second))
    assert refresh(api, third).status_code == 200


def test_a_throttled_or_slow_refresh_spends_the_refresh_token_only_when_answered(api: Api) -> None:
    """What the provider's retries after a 429 rely on: a throttled refresh is not processed."""
    token = exchange(api, new_code(api)).json()["refresh_token"]
    api.fault(kind="burst_429", count=2, seconds=7, path_prefix="/token", client_id=CLIENT_A[0])
    for _ in range(2):
        throttled = refresh(api, token)
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "7"
    api.fault(kind="slow", seconds=0.3, path_prefix="/token", client_id=CLIENT_A[0])
    started = time.monotonic()
    answered = refresh(api, token)
    assert time.monotonic() - started >= 0.3
    assert answered.status_code == 200  # the 429s did not spend it
    assert_invalid_grant(refresh(api, token))  # the answered refresh did


def test_static_refresh_token_stays_the_same(api: Api) -> None:
    first = exchange(api, new_code(api, rotation="static")).json()
    again = [refresh(api, first["refresh_token"]).json() for _ in range(3)]
    assert [body["refresh_token"] for body in again] == [first["refresh_token"]] * 3
    assert len({body["access_token"] for body in again} | {first["access_token"]}) == 4


def test_concurrent_rotating_refreshes_leave_exactly_one_winner(api: Api, emulator: EmulatorHandle) -> None:
    token = exchange(api, new_code(api)).json()["refresh_token"]
    statuses: list[int] = []

    def worker() -> None:
        statuses.append(refresh(Api(emulator), token).status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400, 400, 400]


def test_refresh_token_errors(api: Api) -> None:
    token = exchange(api, new_code(api)).json()["refresh_token"]
    assert_invalid_grant(refresh(api, "eyJhbGciOiJub25lIn0.eyJleHAiOjF9."))
    assert_invalid_grant(refresh(api, token, credentials=CLIENT_B))  # another client's refresh token
    missing = api.token_response(data={"grant_type": "refresh_token"})
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    bad_client = refresh(api, token, credentials=(CLIENT_A[0], "wrong"))
    assert bad_client.status_code == 401
    assert bad_client.json() == {"error": "invalid_client", "error_description": "Bad client credentials"}
    assert refresh(api, token).status_code == 200  # none of the failures used it up


def test_refresh_token_expires(api: Api) -> None:
    token = exchange(api, new_code(api, refresh_token_lifetime=0.3)).json()["refresh_token"]
    time.sleep(0.4)
    assert_invalid_grant(refresh(api, token))


def test_revocation_makes_the_next_refresh_fail(api: Api) -> None:
    code = new_code(api)
    body = exchange(api, code).json()
    revoked = api.control("DELETE", f"/authorization-codes/{code}")
    assert revoked.status_code == 200
    assert revoked.json() == {"code": code, "state": "revoked"}
    assert_invalid_grant(refresh(api, body["refresh_token"]))
    # access tokens already issued keep working until they expire
    assert api.get("/retailer/orders", token=body["access_token"]).status_code == 200
    assert api.control("DELETE", "/authorization-codes/nope").status_code == 404


def test_revoking_an_unused_code(api: Api) -> None:
    code = new_code(api)
    api.control("DELETE", f"/authorization-codes/{code}")
    assert_invalid_grant(exchange(api, code))


def test_missing_code_or_redirect_is_invalid_request(api: Api) -> None:
    response = api.token_response(data={"grant_type": "authorization_code", "code": new_code(api)})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "nobody", "redirect_uri": REDIRECT},
        {"client_id": CLIENT_A[0]},
        {"client_id": CLIENT_A[0], "redirect_uri": REDIRECT, "rotation": "sometimes"},
        {"client_id": CLIENT_A[0], "redirect_uri": REDIRECT, "expires_in": 0},
    ],
    ids=["unknown-client", "no-redirect", "bad-rotation", "bad-expiry"],
)
def test_malformed_code_requests(api: Api, body: dict[str, Any]) -> None:
    response = api.control("POST", "/authorization-codes", json=body)
    assert response.status_code == (404 if body["client_id"] == "nobody" else 400)
    assert "error" in response.json()


def test_code_flow_lifetime_is_configurable_and_follows_token_lifetime_faults(api: Api) -> None:
    config = api.control("POST", "/config", json={"code_flow_token_lifetime": 120}).json()
    assert config["code_flow_token_lifetime"] == 120
    assert exchange(api, new_code(api)).json()["expires_in"] == 119
    api.fault(kind="token_lifetime", seconds=5, client_id=CLIENT_A[0])
    assert exchange(api, new_code(api)).json()["expires_in"] == 4


def test_revoked_client_credentials_block_every_grant(api: Api) -> None:
    token = exchange(api, new_code(api)).json()["refresh_token"]
    api.fault(kind="revoke", client_id=CLIENT_A[0])
    response = refresh(api, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_stats_count_token_requests_by_grant_type(api: Api) -> None:
    api.control("POST", "/stats/reset")
    token = exchange(api, new_code(api)).json()["refresh_token"]
    refresh(api, token)
    refresh(api, token)  # the old one: 400, still counted
    api.token_response()
    api.token_response(data={"grant_type": "password"})
    api.token_response(CLIENT_B, data={})
    stats = api.control("GET", "/stats").json()
    assert stats["token_requests_by_grant"] == {
        "demo-client-a": {"authorization_code": 1, "refresh_token": 2, "client_credentials": 1, "other": 1},
        "demo-client-b": {"-": 1},
    }
    assert stats["token_requests"] == {"demo-client-a": 5, "demo-client-b": 1}
    assert stats["requests"]["POST /token"] == {"200": 3, "400": 3}


def test_reset_forgets_authorizations(api: Api, emulator: EmulatorHandle) -> None:
    code = new_code(api)
    emulator.reset()
    assert api.control("GET", "/authorization-codes").json() == []
    assert_invalid_grant(exchange(api, code))
