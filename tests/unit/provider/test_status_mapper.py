from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolsync_provider.errors import (
    BolAuthError,
    BolClientError,
    BolNotFound,
    BolRateLimited,
    BolServerError,
    BolTokenExpired,
)
from bolsync_provider.transport.status import error_for_status, parse_retry_after
from tests.support.fixture_server import Fixture


def _map(name: str):
    fixture = Fixture.load(name)
    return error_for_status(fixture.status, fixture.body.decode(), dict(fixture.headers), request="GET /x")


@pytest.mark.parametrize(
    ("fixture", "expected", "text"),
    [
        ("401-jwt-expired", BolTokenExpired, "Expired JWT"),
        ("401-unauthorized", BolAuthError, "invalid_client"),
        ("403-forbidden-account_is_not_active", BolAuthError, "Account is not active"),
        ("404-not-found", BolNotFound, "Some record is not found"),
        ("429-too-many-requests", BolRateLimited, "Too many requests"),
        ("429-too-many-requests-without-retry-after", BolRateLimited, "retry in 4 seconds"),
        ("500-internal-server-error", BolServerError, "Internal Server Error"),
    ],
)
def test_captured_responses_map_to_typed_errors(fixture: str, expected: type, text: str) -> None:
    error = _map(fixture)
    assert type(error) is expected
    assert text in str(error)
    assert str(error).startswith("GET /x -> HTTP ")


def test_retry_after_is_read_only_when_sent() -> None:
    with_header = _map("429-too-many-requests")
    without = _map("429-too-many-requests-without-retry-after")
    assert isinstance(with_header, BolRateLimited)
    assert with_header.retry_after == 4
    assert isinstance(without, BolRateLimited)
    assert without.retry_after is None


def test_success_maps_to_none() -> None:
    assert _map("200-order") is None


def test_html_body_is_reduced_to_text() -> None:
    error = error_for_status(502, "<html><body><h1>Bad Gateway</h1></body></html>", {}, request="GET /x")
    assert isinstance(error, BolServerError)
    assert "<" not in str(error)
    assert "Bad Gateway" in str(error)


def test_retry_after_http_date_and_garbage() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(" 7 ") == 7.0


@given(status=st.integers(min_value=100, max_value=599), body=st.text(max_size=200))
def test_every_status_maps_to_the_documented_family(status: int, body: str) -> None:
    error = error_for_status(status, body, {}, request="GET /x")
    if status < 300:
        assert error is None
    elif status < 400:
        assert type(error) is BolClientError  # redirects are not followed
    elif status in (401, 403):
        assert isinstance(error, BolAuthError)
    elif status == 404:
        assert isinstance(error, BolNotFound)
    elif status == 429:
        assert isinstance(error, BolRateLimited)
    elif status == 408 or status >= 500:
        assert isinstance(error, BolServerError)
    else:
        assert type(error) is BolClientError
    if error is not None:
        assert len(str(error)) < 400
