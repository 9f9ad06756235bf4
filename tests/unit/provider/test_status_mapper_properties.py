"""Property-based tests of the HTTP status mapper: every status 100-599 with every kind of body bol (or a proxy
in front of it) may send: problem+json, OAuth token errors, HTML error pages, other JSON, garbage, huge
bodies; and Retry-After as delta-seconds, HTTP-dates (IMF-fixdate and RFC 850) or junk.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from bolsync_provider.errors import (
    RETRIABLE_ERRORS,
    BolApiError,
    BolAuthError,
    BolClientError,
    BolNotFound,
    BolRateLimited,
    BolServerError,
    BolTokenExpired,
)
from bolsync_provider.transport.status import (
    MAX_RETRY_AFTER_SECONDS,
    describe_body,
    error_for_status,
    parse_problem,
    parse_retry_after,
)

PROPERTIES = settings(max_examples=200, deadline=None)
MAX_DETAIL = 300  # transport.status._MAX_DETAIL: the cap on the body part of a message
REQUESTS = st.sampled_from(["GET /retailer/orders", "GET /retailer/orders/{order-id}", "POST token"])

_WORDS = st.sampled_from(["Bad Gateway", "Niet gevonden", "Zoë's order", "verzoek", "<b>", "&amp;", "ü", "王", "🙂"])
_SHORT_TEXT = st.text(max_size=40) | _WORDS
_PROBLEM = st.fixed_dictionaries(
    {},
    optional={
        "type": st.just("https://api.bol.com/problems"),
        "title": _SHORT_TEXT | st.none() | st.integers(),
        "status": st.integers(100, 599),
        "detail": _SHORT_TEXT | st.none(),
        "host": st.just("Instance-001"),
        "instance": st.just("https://api.bol.com/retailer/orders"),
        "violations": st.lists(st.fixed_dictionaries({"name": _SHORT_TEXT, "reason": _SHORT_TEXT}), max_size=2),
        "newField": st.text(max_size=5) | st.integers() | st.lists(st.integers(), max_size=2),
    },
)
_OAUTH_ERROR = st.fixed_dictionaries(
    {"error": st.sampled_from(["invalid_client", "invalid_grant", "unauthorized_client"])},
    optional={"error_description": _SHORT_TEXT},
)
_PAGE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="<>"), max_size=40)


def _html_page(title: str, heading: str, attr: str) -> str:
    """An HTML error page as nginx or a load balancer sends it (text escaped, so no '<' or '>' in it)."""
    return (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
        f'<body><h1 class="{attr}">{heading}</h1>\n<hr><center>nginx</center></body></html>'
    )


_PAGE_PARTS = st.tuples(_PAGE_TEXT | _WORDS.filter(lambda w: "<" not in w), _PAGE_TEXT, _PAGE_TEXT)
_HTML = _PAGE_PARTS.map(lambda parts: _html_page(*parts))
_OTHER_JSON = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
)
_HUGE = st.builds(lambda chunk, n: chunk * n, st.text(min_size=1, max_size=20) | _WORDS, st.integers(2_000, 20_000))
BODIES = st.one_of(
    st.text(),
    _PROBLEM.map(json.dumps),
    _PROBLEM.map(lambda p: json.dumps(p, indent=2, ensure_ascii=False)),
    _OAUTH_ERROR.map(json.dumps),
    _HTML,
    _OTHER_JSON.map(json.dumps),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", errors="replace")),
    st.sampled_from(["", " ", "\n", "{ }", "null", "<html></html>", "Internal Server Error"]),
    _HUGE,
    _HUGE.map(lambda text: json.dumps({"title": "Big", "detail": text})),
)


def _http_date(moment: datetime, style: int) -> str:
    """RFC 9110 HTTP-date in its preferred (IMF-fixdate) or obsolete RFC 850 format, always GMT."""
    moment = moment.astimezone(UTC)
    if style == 0:
        return format_datetime(moment, usegmt=True)
    return moment.strftime("%A, %d-%b-%y %H:%M:%S GMT")


_DELTA_SECONDS = st.integers(0, 86_400)
_OFFSETS = st.integers(-86_400, 86_400)
RETRY_AFTERS = st.one_of(
    _DELTA_SECONDS.map(str),
    st.builds(
        lambda seconds, style: _http_date(datetime.now(UTC) + timedelta(seconds=seconds), style),
        _OFFSETS,
        st.integers(0, 1),
    ),
    st.sampled_from(["", " ", "soon", "4s", "0x10", "-5", "-0.5", "1.5", " 7 ", "Wed, 32 Oct 2015 07:28:00 GMT"]),
    st.text(max_size=30),
)
_HEADER_NAMES = st.sampled_from(["Retry-After", "retry-after", "RETRY-AFTER"])


def _headers(name: str | None, value: str | None) -> CaseInsensitiveDict:
    """Response headers as the transport hands them over (requests' case-insensitive mapping)."""
    headers = CaseInsensitiveDict({"Content-Type": "application/vnd.retailer.v10+json", "X-RateLimit-Remaining": "0"})
    if name is not None and value is not None:
        headers[name] = value
    return headers


def _expected_class(status: int) -> type[BolApiError]:
    if status in (401, 403):
        return BolAuthError
    if status == 404:
        return BolNotFound
    if status == 429:
        return BolRateLimited
    if status == 408 or status >= 500:
        return BolServerError
    return BolClientError


# --- error_for_status ----------------------------------------------------------------------------------


@PROPERTIES
@given(
    status=st.integers(100, 299),
    body=BODIES,
    name=_HEADER_NAMES | st.none(),
    retry_after=RETRY_AFTERS,
    request=REQUESTS,
)
def test_informational_and_success_statuses_are_no_error(
    status: int, body: str, name: str | None, retry_after: str, request: str
) -> None:
    assert error_for_status(status, body, _headers(name, retry_after), request=request) is None


@PROPERTIES
@given(
    status=st.integers(300, 399),
    body=BODIES,
    location=st.sampled_from(["https://evil.example:8443/p?code=abc123secret", "/relative?x=1", "", "http://[::1"])
    | st.text(max_size=40),
    request=REQUESTS,
)
def test_a_redirect_is_a_fatal_error_naming_only_the_target_host(
    status: int, body: str, location: str, request: str
) -> None:
    headers = _headers(None, None)
    headers["Location"] = location
    error = error_for_status(status, body, headers, request=request)
    assert type(error) is BolClientError
    assert error.status == status
    message = str(error)
    assert message.startswith(f"{request} -> HTTP {status}: a redirect to ")
    assert "not followed" in message
    assert "abc123secret" not in message
    assert "?x=1" not in message
    if location.startswith("https://evil.example"):
        assert "https://evil.example:8443" in message


@PROPERTIES
@given(
    status=st.integers(400, 599),
    body=BODIES.filter(lambda b: "jwt" not in b.lower()),
    name=_HEADER_NAMES | st.none(),
    retry_after=RETRY_AFTERS,
    request=REQUESTS,
)
def test_every_error_status_maps_to_its_documented_class(
    status: int, body: str, name: str | None, retry_after: str, request: str
) -> None:
    """4xx/5xx -> the documented class, retriable exactly for 408/429/5xx; a bounded single-line message."""
    error = error_for_status(status, body, _headers(name, retry_after), request=request)
    assert type(error) is _expected_class(status)
    assert error.status == status
    assert isinstance(error, RETRIABLE_ERRORS) == (status in (408, 429) or status >= 500)
    if not isinstance(error, RETRIABLE_ERRORS):
        assert isinstance(error, BolAuthError | BolClientError)  # fatal: the task fails without Airflow retries
    prefix = f"{request} -> HTTP {status}: "
    message = str(error)
    assert message.startswith(prefix)
    assert len(message) <= len(prefix) + MAX_DETAIL  # a 20k-character body is not echoed
    assert "\n" not in message
    assert "\r" not in message
    if isinstance(error, BolRateLimited):
        assert error.retry_after is None or error.retry_after >= 0
    else:
        assert error.problem == parse_problem(body)


@PROPERTIES
@given(
    title=st.sampled_from(["Expired JWT", "expired jwt", "EXPIRED JWT"]),
    detail=st.builds(
        lambda moment: f"JWT expired at {moment.isoformat()}Z. Current time: later. Allowed clock skew: 1000 ms.",
        st.datetimes(),
    ),
    keep_title=st.booleans(),
)
def test_an_expired_token_is_told_apart_from_other_401s(title: str, detail: str, keep_title: bool) -> None:
    problem = {"type": "https://api.bol.com/problems", "status": 401, "detail": detail}
    if keep_title:
        problem["title"] = title
    body = json.dumps(problem)
    assert type(error_for_status(401, body, {}, request="GET /x")) is BolTokenExpired
    # the same answer for a 403 is an account problem, never a token refresh
    assert type(error_for_status(403, body, {}, request="GET /x")) is BolAuthError


@PROPERTIES
@given(
    seconds=_DELTA_SECONDS,
    offset=_OFFSETS,
    style=st.integers(0, 1),
    name=_HEADER_NAMES,
    body=BODIES,
    form=st.sampled_from(["delta", "date", "absent"]),
)
def test_429_carries_the_servers_wait(seconds: int, offset: int, style: int, name: str, body: str, form: str) -> None:
    """Delta-seconds are honoured exactly, an HTTP-date as the time left until then (0 once past)."""
    now = datetime.now(UTC)
    value = {"delta": str(seconds), "date": _http_date(now + timedelta(seconds=offset), style), "absent": None}[form]
    error = error_for_status(429, body, _headers(name, value), request="GET /retailer/orders")
    assert isinstance(error, BolRateLimited)
    if form == "delta":
        assert error.retry_after == min(seconds, MAX_RETRY_AFTER_SECONDS)  # capped: no bol window is longer
    elif form == "date":
        assert error.retry_after is not None
        expected = min(offset, MAX_RETRY_AFTER_SECONDS)
        assert error.retry_after == 0 if offset <= -5 else abs(error.retry_after - expected) <= 5
    else:
        assert error.retry_after is None  # the caller falls back to exponential backoff


# --- parse_retry_after ---------------------------------------------------------------------------------


@PROPERTIES
@given(RETRY_AFTERS | st.none())
def test_retry_after_never_raises_and_is_never_negative(value: str | None) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (isinstance(seconds, float) and seconds >= 0)


@PROPERTIES
@given(
    st.one_of(
        RETRY_AFTERS,
        st.sampled_from(["inf", "Infinity", "-inf", "nan", "NaN", "1e400"]),
        st.floats().map(repr),
    )
)
def test_retry_after_is_a_finite_wait_or_none(value: str) -> None:
    """Fails today (bug): float() accepts "inf"/"Infinity"/"1e400" and max(0.0, inf) is inf. The transport then
    pauses the rate budget, and tenacity waits, for inf seconds: time.sleep(inf) raises OverflowError."""
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0), f"Retry-After {value!r} -> {seconds!r}"


# --- parse_problem / describe_body ---------------------------------------------------------------------


@PROPERTIES
@given(BODIES)
def test_parse_problem_returns_the_json_object_or_nothing(body: str) -> None:
    problem = parse_problem(body)
    assert isinstance(problem, dict)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    assert problem == (parsed if isinstance(parsed, dict) else {})


_TAG = re.compile(r"<[^>]+>")


@PROPERTIES
@given(BODIES)
def test_description_is_short_single_line_and_free_of_markup(body: str) -> None:
    problem = parse_problem(body)
    text = describe_body(body, problem)
    assert 0 < len(text) <= MAX_DETAIL
    assert all(c == " " or not c.isspace() for c in text)  # one line: no newline, tab or other whitespace
    assert "  " not in text
    if not problem:
        assert _TAG.search(text) is None  # HTML error pages are reduced to their text


@PROPERTIES
@given(_PAGE_PARTS)
def test_an_html_error_page_is_described_by_its_text(parts: tuple[str, str, str]) -> None:
    title, heading, _ = parts
    body = _html_page(*parts)
    text = describe_body(body, parse_problem(body))
    assert _TAG.search(text) is None
    for visible in (title, heading, "nginx"):
        words = " ".join(visible.split())
        if words and not parse_problem(body):
            assert words in text


@PROPERTIES
@given(_PROBLEM)
def test_a_problem_is_described_by_its_title_and_detail(problem: dict) -> None:
    body = json.dumps(problem)
    text = describe_body(body, parse_problem(body))
    for key in ("title", "detail"):
        value = " ".join(str(problem.get(key) or "").split())
        if value and len(value) < MAX_DETAIL // 3:
            assert value in text


@PROPERTIES
@given(
    key=st.sampled_from(["message", "msg", "errorMessage", "reason", "fault"]),
    value=st.text(min_size=1, max_size=40).filter(lambda s: s.strip()) | _WORDS,
)
def test_a_json_body_with_text_is_never_described_as_empty(key: str, value: str) -> None:
    """Fails today (bug): a JSON object without title/detail/error/error_description/violations (e.g. a gateway's
    ``{"message": "API rate limit exceeded"}``) is logged as "(empty body)", and its text is lost."""
    body = json.dumps({key: value})
    assert describe_body(body, parse_problem(body)) != "(empty body)", f"body {body!r}"


@settings(max_examples=100, deadline=None)
@given(
    status=st.sampled_from([400, 404, 429, 500, 502, 503]),
    depth=st.integers(1, 50_000),
    opener=st.sampled_from(["[", '{"a":', '{"detail":[']),
)
def test_a_deeply_nested_garbage_body_still_maps_to_an_error(status: int, depth: int, opener: str) -> None:
    """Fails today (bug): json.loads raises RecursionError (not a ValueError) on ~1000 levels of nesting, so
    error_for_status raises instead of returning the (retriable) error: a proxy's garbage 502 crashes the call."""
    try:
        error = error_for_status(status, opener * depth, {}, request="GET /retailer/orders")
    except RecursionError:
        pytest.fail(f"HTTP {status} with body {opener!r} * {depth}: error_for_status raised RecursionError")
    assert type(error) is _expected_class(status)
