"""The token endpoint: shape and claims of tokens, bad credentials, its own rate limit."""

from __future__ import annotations

import base64
import re

import jwt
import pytest

from bol_emulator import EmulatorHandle, start_emulator
from tests.emulator.conftest import CLIENT_B, Api, small_config


def test_token_response_and_claims(api: Api, emulator: EmulatorHandle) -> None:
    response = api.token_response()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 299
    assert body["scope"] == "RETAILER"
    token = body["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "rsa3", "typ": "JWT"}
    claims = jwt.decode(token, emulator.emulator.tokens.public_key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["sub"] == claims["azp"] == "demo-client-a"
    assert claims["iss"] == "https://login.bol.com"
    assert claims["scopes"] == "RETAILER"
    assert claims["exp"] - claims["iat"] == 300
    assert re.fullmatch(r"CLNTC:[0-9a-f-]{36} SLR:1000001", claims["aid"])
    assert claims["jti"]
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert name in response.headers


def test_each_account_gets_its_own_retailer_id(api: Api) -> None:
    token = api.token_response(CLIENT_B).json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["aid"].endswith(" SLR:1000002")


def test_grant_type_in_query_string_is_accepted(api: Api) -> None:
    response = api.token_response(data=None, params={"grant_type": "client_credentials"})
    assert response.status_code == 200


@pytest.mark.parametrize("grant", ["password", None])
def test_other_grant_types_are_rejected(api: Api, grant: str | None) -> None:
    response = api.token_response(data={"grant_type": grant} if grant else {})
    assert response.status_code == 400
    assert response.json()["error"] in ("unsupported_grant_type", "invalid_request")


@pytest.mark.parametrize(
    "credentials",
    [("demo-client-a", "wrong"), ("nobody", "demo-secret-a"), None],
    ids=["secret", "client", "none"],
)
def test_bad_credentials_answer_invalid_client(
    api: Api, emulator: EmulatorHandle, credentials: tuple[str, str] | None
) -> None:
    headers = {"Accept": "application/json"}
    if credentials:
        raw = base64.b64encode(":".join(credentials).encode()).decode()
        headers["Authorization"] = f"Basic {raw}"
    response = api.session.post(emulator.token_url, data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Bad client credentials"}


def test_token_endpoint_rate_limit() -> None:
    with start_emulator(small_config(rate_scale=1.0)) as handle:
        api = Api(handle)
        statuses = [api.token_response().status_code for _ in range(20)]
        assert statuses == [200] * 20
        throttled = api.token_response()
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert throttled.headers["X-RateLimit-Remaining"] == "0"
        assert throttled.headers["X-RateLimit-Limit"] == "20"
        # the limit is per client
        assert api.token_response(CLIENT_B).status_code == 200
        stats = api.control("GET", "/stats").json()
        assert stats["token_requests"] == {"demo-client-a": 21, "demo-client-b": 1}
        assert stats["throttled"] == {"demo-client-a": 1}
        assert stats["requests"]["POST /token"] == {"200": 21, "429": 1}


def test_token_lifetime_is_configurable(api: Api) -> None:
    assert api.control("POST", "/config", json={"token_lifetime": 30}).json()["token_lifetime"] == 30
    body = api.token_response().json()
    assert body["expires_in"] == 29
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 30
