from __future__ import annotations

import json
import time

import pytest

from bolsync_provider.auth.tokens import FALLBACK_LIFETIME_SECONDS, AccessToken, parse_token_response
from bolsync_provider.errors import BolAuthError
from tests.support.fixture_server import Fixture
from tests.support.jwt_tokens import make_jwt, token_body


def _parse(body: str | bytes) -> AccessToken:
    text = body.decode() if isinstance(body, bytes) else body
    return parse_token_response(text, requested_at=1000.0, client_id="c", login_label="login")


def _fixture(name: str) -> str:
    return Fixture.load(name).body.decode()


def _with_jwt(name: str, token: str | None = None) -> str:
    """bol's captured token response with its placeholder ``sometoken`` replaced by a real JWT."""
    data = json.loads(_fixture(name))
    if data.get("access_token") == "sometoken":
        data["access_token"] = token or make_jwt()
    return json.dumps(data)


def test_jwt_lifetime_comes_from_exp_minus_iat_counted_from_request_time() -> None:
    token = _parse(token_body(make_jwt(lifetime=300), expires_in=299))
    assert token.issued_at == 1000.0
    assert token.expires_at == 1300.0
    assert token.retailer_id == "1234567"


def test_a_jwt_without_exp_falls_back_to_expires_in() -> None:
    token = _parse(_with_jwt("200-token", make_jwt(exp=None, iat=None)))
    assert token.expires_at == 1299.0


@pytest.mark.parametrize(
    "name", ["200-token-lowercase-type", "200-token-lowercase-scope", "200-token-unexpected-scope"]
)
def test_harmless_variations_are_accepted(name: str) -> None:
    assert _parse(_with_jwt(name, make_jwt(exp=None, iat=None))).expires_at == 1299.0


@pytest.mark.parametrize("name", ["200-token-missing-expires_in", "200-token-empty-expires_in"])
def test_missing_expiry_uses_a_conservative_lifetime(name: str) -> None:
    assert _parse(_with_jwt(name, make_jwt(exp=None, iat=None))).lifetime == FALLBACK_LIFETIME_SECONDS


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("200-token-expires-immediately", "expires immediately"),
        ("200-token-missing-access_token", "without an access_token"),
        ("200-token-empty-access_token", "without an access_token"),
        ("200-token-empty-body", "without a JSON token object"),
        ("200-token-unexpected-bearer", "only Bearer tokens"),
        ("200-string", "without a JSON token object"),
    ],
)
def test_unusable_tokens_are_refused_clearly(name: str, message: str) -> None:
    body = _with_jwt(name) if name.startswith("200-token-") and _fixture(name).strip() else _fixture(name)
    with pytest.raises(BolAuthError, match=message):
        _parse(body)


def test_bols_placeholder_token_is_not_a_jwt_and_is_refused() -> None:
    with pytest.raises(BolAuthError, match=r"not a JWT \(1 dot-separated parts instead of 3\)"):
        _parse(_fixture("200-token"))


def test_refresh_margin_scales_with_lifetime() -> None:
    long = AccessToken("t", 0, 300, "c")
    short = AccessToken("t", 0, 10, "c")
    hour = AccessToken("t", 0, 3600, "c")
    assert long.refresh_margin == 30
    assert short.refresh_margin == 1
    assert hour.refresh_margin == 60
    assert long.is_fresh(269)
    assert not long.is_fresh(271)


def test_cache_roundtrip_and_garbage() -> None:
    token = AccessToken(make_jwt(), time.time(), time.time() + 300, "c", "1234567")
    assert AccessToken.from_json(token.to_json()) == token
    assert AccessToken.from_json("not json") is None
    assert AccessToken.from_json('{"value": 1}') is None
    assert AccessToken.from_json("[" * 100_000) is None
