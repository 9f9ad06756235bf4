"""Every bad input gets a clear error, nothing is lost, nothing leaks: the hook over real HTTP (the emulator's
``respond`` fault, captured bol responses, or a raw socket where HTTP itself must break)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import EmulatorHandle
from bolsync_provider.auth.authorize import exchange_code
from bolsync_provider.auth.cache import (
    MemoryRefreshTokenStore,
    MemoryTokenCache,
    VariableRefreshTokenStore,
    VariableTokenCache,
    refresh_variable_key,
    variable_key,
)
from bolsync_provider.auth.tokens import AccessToken
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.budget.shared_state.planning import WindowLimit
from bolsync_provider.budget.shared_state.sql import PostgresSharedState, SqliteSharedState
from bolsync_provider.errors import (
    RETRIABLE_ERRORS,
    BolClientError,
    BolConfigError,
    BolLoginError,
    BolResponseError,
    BolSharedStateError,
    BolTransportError,
)
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.settings import DEFAULT_MAX_RESPONSE_BYTES
from bolsync_provider.transport import retry
from tests.emulator.conftest import CLIENT_A
from tests.support.fixture_server import Fixture, FixtureServer
from tests.support.fixtures import fast_budget
from tests.support.jwt_tokens import make_jwt, token_body
from tests.support.services import postgres_url

ORDERS = "/retailer/orders"
SECRET = "secret-value-xyz"
REDIRECT_URI = "https://partner.example/callback"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.01)


def _fault(handle: EmulatorHandle, **rule: Any) -> None:
    requests.post(f"{handle.base_url}/_emulator/faults", json=rule, timeout=10).raise_for_status()


def _emulator_hook(make_hook: Callable[..., BolRetailerHook], handle: EmulatorHandle, **extra: Any) -> BolRetailerHook:
    return make_hook(handle.base_url, login=CLIENT_A[0], password=CLIENT_A[1], **extra)


def _real_token(handle: EmulatorHandle) -> str:
    response = requests.post(handle.token_url, data={"grant_type": "client_credentials"}, auth=CLIENT_A, timeout=10)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _token(server: FixtureServer, value: str | None = None, **body: Any) -> str:
    value = value or make_jwt()
    server.queue_fixture("/token", Fixture(200, [("Content-Type", "application/json")], token_body(value, **body)))
    return value


def _masked(secret: str) -> bool:
    from airflow.sdk.log import redact

    return redact(f"before {secret} after") == "before *** after"


# --- 1. token validation and redaction ------------------------------------------------------------------


def test_a_token_with_a_trailing_newline_is_refused_never_cached_and_never_shown(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], caplog: pytest.LogCaptureFixture
) -> None:
    odd = _real_token(bol) + "\n"
    body = json.dumps({"access_token": odd, "token_type": "Bearer", "expires_in": 299, "scope": "RETAILER"})
    _fault(bol, kind="respond", path_prefix="/token", headers={"Content-Type": "application/json"}, body=body)
    cache = MemoryTokenCache()
    hook = _emulator_hook(make_hook, bol, cache=cache)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BolLoginError, match=r"not a JWT .*line break.*It was not cached") as caught:
        hook.get_orders_page(1)
    assert odd.strip() not in str(caught.value)
    assert odd.strip() not in caplog.text
    assert cache.load("bol_test") is None
    assert hook.metrics.api_calls == 0  # nothing was sent with it
    # The next run gets a proper token and works: one odd answer does not poison the connection.
    again = _emulator_hook(make_hook, bol, cache=cache)
    assert again.get_orders_page(1)
    assert again.get_retailer_id() == "1000001"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expires_in": 0}, "expires immediately"),
        ({"expires_in": -5}, "expires immediately"),
        ({"expires_in": "abc"}, "not a finite number"),
        ({"expires_in": "nan"}, "not a finite number"),
        ({"expires_in": float("inf")}, "not a finite number"),
        ({"expires_in": True}, "not a finite number"),
        ({"token_type": "mac"}, "only Bearer tokens"),
        ({"token_type": 123}, "only Bearer tokens"),
        ({"access_token": "a.b"}, r"not a JWT \(2 dot-separated parts"),
        ({"access_token": "one two.three.four"}, "not a JWT .*whitespace"),
        ({"access_token": "x" * 20_000}, "not a JWT .*longer than"),
    ],
)
def test_token_responses_are_validated(
    fixture_server: tuple[FixtureServer, str],
    make_hook: Callable[..., BolRetailerHook],
    fields: dict[str, Any],
    message: str,
) -> None:
    server, url = fixture_server
    body = {"access_token": make_jwt(), "token_type": "Bearer", "expires_in": 299, **fields}
    server.queue_fixture("/token", Fixture(200, [("Content-Type", "application/json")], json.dumps(body).encode()))
    cache = MemoryTokenCache()
    with pytest.raises(BolLoginError, match=message):
        make_hook(url, cache=cache).get_orders_page(1)
    assert cache.load("bol_test") is None
    assert [r.path for r in server.requests] == ["/token"]


def test_bearer_in_any_case_is_accepted(
    fixture_server: tuple[FixtureServer, str], make_hook: Callable[..., BolRetailerHook]
) -> None:
    server, url = fixture_server
    _token(server, token_type="BEARER")
    server.queue(ORDERS, "200-reduced-orders-empty")
    assert make_hook(url).get_orders_page(1) == []


def test_secrets_echoed_by_bol_never_reach_an_error_or_a_log(
    fixture_server: tuple[FixtureServer, str],
    make_hook: Callable[..., BolRetailerHook],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, url = fixture_server
    value = _token(server)
    echo = {
        "title": "Bad Request",
        "status": 400,
        "detail": f"rejected Authorization: Bearer {value}; client_secret={SECRET}; other {make_jwt()}",
    }
    server.queue_fixture(ORDERS, Fixture.json(400, json.dumps(echo).encode()))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BolClientError, match="rejected") as caught:
        make_hook(url).get_orders_page(1)
    text = f"{caught.value} {caught.value!r} {caplog.text}"
    assert value not in text
    assert SECRET not in text
    assert "eyJ" not in str(caught.value)


def test_every_error_class_redacts_its_message() -> None:
    token = make_jwt()
    for error in (
        BolConfigError(f"x {token}"),
        BolLoginError(f"refresh_token={token}&a=1", status=400),
        BolTransportError(f"Authorization: Basic {base64.b64encode(b'client:' + SECRET.encode()).decode()}"),
        BolResponseError(f'{{"access_token": "{token}"}}'),
    ):
        assert token not in str(error)
        assert SECRET not in str(error)
        assert "***" in str(error)


# --- 2. tokens read from Variables are masked -----------------------------------------------------------


def test_a_cached_access_token_read_from_its_variable_is_masked(
    fixture_server: tuple[FixtureServer, str],
    set_connection: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, url = fixture_server
    set_connection("bol_cached", api_url=url, login_url=f"{url}/token")
    value = make_jwt(client_id="client-x")
    cached = AccessToken(value, 0.0, 4_000_000_000.0, "client-x", "1234567")
    monkeypatch.setenv(f"AIRFLOW_VAR_{variable_key('bol_cached').upper()}", cached.to_json())
    assert not _masked(value)
    hook = BolRetailerHook(
        "bol_cached", token_cache=VariableTokenCache(), budget=fast_budget(), state=MemorySharedState()
    )
    assert hook.get_retailer_id() == "1234567"
    assert server.requests == []  # it came from the Variable
    assert _masked(value)


def test_a_refresh_token_read_from_its_variable_is_masked(
    fixture_server: tuple[FixtureServer, str],
    set_connection: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, url = fixture_server
    set_connection("bol_partner", api_url=url, login_url=f"{url}/token", grant_type="authorization_code")
    refresh_token = f"rt-{uuid.uuid4()}"
    monkeypatch.setenv(f"AIRFLOW_VAR_{refresh_variable_key('bol_partner').upper()}", refresh_token)
    _token(server)
    server.queue(ORDERS, "200-reduced-orders-empty")
    assert not _masked(refresh_token)
    hook = BolRetailerHook(
        "bol_partner",
        token_cache=MemoryTokenCache(),
        budget=fast_budget(),
        state=MemorySharedState(),
        refresh_tokens=VariableRefreshTokenStore(),
    )
    assert hook.get_orders_page(1) == []
    assert refresh_token in server.requests[0].body.decode()
    assert _masked(refresh_token)


# --- 3. refresh tokens need a Fernet key; a cached retailer id must match the token --------------------


def test_without_a_fernet_key_the_code_is_not_spent_and_nothing_is_stored(
    bol: EmulatorHandle, set_connection: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = requests.post(
        f"{bol.base_url}/_emulator/authorization-codes",
        json={"client_id": CLIENT_A[0], "redirect_uri": REDIRECT_URI},
        timeout=10,
    ).json()["code"]
    set_connection(
        "bol_code",
        login=CLIENT_A[0],
        password=CLIENT_A[1],
        api_url=bol.base_url,
        login_url=bol.token_url,
        grant_type="authorization_code",
    )
    settings = BolRetailerHook("bol_code").settings
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    with pytest.raises(BolConfigError, match=r"\[core\] fernet_key"):
        exchange_code(settings, code, REDIRECT_URI, VariableRefreshTokenStore())
    stats = requests.get(f"{bol.base_url}/_emulator/stats", timeout=10).json()
    assert stats["token_requests"] == {}
    store = MemoryRefreshTokenStore()
    assert exchange_code(settings, code, REDIRECT_URI, store) == "1000001"  # the code still works
    assert store.load("bol_code")


def test_without_a_fernet_key_no_refresh_is_attempted(
    fixture_server: tuple[FixtureServer, str],
    set_connection: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, url = fixture_server
    set_connection("bol_partner2", api_url=url, login_url=f"{url}/token", grant_type="authorization_code")
    monkeypatch.setenv(f"AIRFLOW_VAR_{refresh_variable_key('bol_partner2').upper()}", f"rt-{uuid.uuid4()}")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    _token(server)
    hook = BolRetailerHook(
        "bol_partner2", token_cache=MemoryTokenCache(), budget=fast_budget(), state=MemorySharedState()
    )
    with pytest.raises(BolConfigError, match=r"refusing to store its refresh token .*\[core\] fernet_key"):
        hook.get_orders_page(1)
    assert server.requests == []  # a rotated refresh token that cannot be stored would be lost


def test_a_cached_retailer_id_that_differs_from_the_tokens_claim_is_not_trusted(
    fixture_server: tuple[FixtureServer, str],
    set_connection: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, url = fixture_server
    set_connection("bol_tampered", api_url=url, login_url=f"{url}/token")
    tampered = AccessToken(make_jwt(retailer_id="1234567"), 0.0, 4_000_000_000.0, "client-x", "9999999")
    monkeypatch.setenv(f"AIRFLOW_VAR_{variable_key('bol_tampered').upper()}", tampered.to_json())
    _token(server, make_jwt(retailer_id="1234567"))
    hook = BolRetailerHook(
        "bol_tampered", token_cache=VariableTokenCache(), budget=fast_budget(), state=MemorySharedState()
    )
    assert hook.get_retailer_id() == "1234567"
    assert [r.path for r in server.requests] == ["/token"]


# --- 4. response shapes: nothing lost, format errors named ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "ends"),
    [
        ("{}", True),
        ('{"orders": []}', True),
        ('{"items": [{"orderId": "1"}]}', False),
        ('{"orders": null}', False),
        ("[]", False),
        ("", False),
        ("null", False),
        ('{"orders": "x"}', False),
    ],
)
def test_only_an_empty_object_or_list_ends_the_order_list(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], body: str, ends: bool
) -> None:
    pages = _emulator_hook(make_hook, bol).iter_order_pages(latest_change_date=_busy_day(bol))
    assert next(pages)  # page 1 is real
    _fault(bol, kind="respond", path_prefix=ORDERS, headers={"Content-Type": "application/json"}, body=body)
    if ends:
        assert list(pages) == []
    else:
        with pytest.raises(BolResponseError, match="GET /retailer/orders page 2"):
            next(pages)


def _busy_day(handle: EmulatorHandle) -> str:
    """A day with changes of client A (the list of such a day has at least one page)."""
    rows = handle.world.ground_truth(CLIENT_A[0])
    from datetime import datetime
    from zoneinfo import ZoneInfo

    amsterdam = ZoneInfo("Europe/Amsterdam")
    return datetime.fromisoformat(rows[-1]["latest_changed_at"]).astimezone(amsterdam).date().isoformat()


def test_json_nested_too_deeply_is_a_format_error(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook]
) -> None:
    _fault(bol, kind="respond", path_prefix=ORDERS, headers={"Content-Type": "application/json"}, body="[" * 100_000)
    with pytest.raises(BolResponseError, match="nested too deeply"):
        _emulator_hook(make_hook, bol).get_orders_page(1)


def test_a_cursor_that_is_not_a_string_is_a_format_error(
    fixture_server: tuple[FixtureServer, str], make_hook: Callable[..., BolRetailerHook]
) -> None:
    server, url = fixture_server
    _token(server)
    page = b'{"offers": [{"offerId": "o-1"}], "page": {"nextCursor": {"id": 1}}}'
    server.queue_fixture("/retailer/offers", Fixture.json(200, page))
    with pytest.raises(BolResponseError, match="nextCursor must be a string"):
        list(make_hook(url).iter_offers_v11())


def test_an_export_file_that_is_not_utf8_is_a_format_error(
    fixture_server: tuple[FixtureServer, str], make_hook: Callable[..., BolRetailerHook]
) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture(
        "/retailer/offers/export/r-1", Fixture(200, [("Content-Type", "text/csv")], b"offerId\n\xff\n")
    )
    with pytest.raises(BolResponseError, match="not UTF-8"):
        make_hook(url).download_offer_export("r-1")


class RawServer:
    """Answers every request with the same raw bytes (HTTP that may be broken on purpose), except /token."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.token = token_body(make_jwt())
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                if request.startswith(b"POST /token"):
                    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.token)}"
                    conn.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + self.token)
                else:
                    conn.sendall(self.raw)

    def close(self) -> None:
        self._socket.close()


def test_a_body_cut_off_mid_transfer_is_a_clear_retried_transport_error(
    make_hook: Callable[..., BolRetailerHook],
) -> None:
    server = RawServer(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"orders": [')
    try:
        hook = make_hook(server.url)
        with pytest.raises(
            BolTransportError, match=r"cut off: the connection broke before all of it arrived \(Content-Length 1000\)"
        ):
            hook.get_orders_page(1)
        assert hook.metrics.api_calls == 4  # retried up to max_attempts: a broken transfer is transient
    finally:
        server.close()


# --- 5. redirects are never followed --------------------------------------------------------------------


def test_a_token_redirect_is_not_followed_and_the_refresh_token_stays_home(
    fixture_server: tuple[FixtureServer, str], set_connection: Callable[..., str]
) -> None:
    server, url = fixture_server
    elsewhere = FixtureServer()
    other = elsewhere.start()
    try:
        set_connection(
            "bol_redirected",
            api_url=url,
            login_url=f"{url}/token",
            grant_type="authorization_code",
            refresh_token="rt-must-stay-home",
        )
        server.queue_fixture("/token", Fixture(307, [("Location", f"{other}/token?x=secret-path")], b""))
        hook = BolRetailerHook(
            "bol_redirected",
            token_cache=MemoryTokenCache(),
            budget=fast_budget(),
            state=MemorySharedState(),
            refresh_tokens=MemoryRefreshTokenStore(),
        )
        with pytest.raises(BolClientError, match=rf"HTTP 307: a redirect to {other}, not followed") as caught:
            hook.get_orders_page(1)
        assert "secret-path" not in str(caught.value)
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


def test_an_api_redirect_to_another_host_is_an_error_not_an_answer(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook]
) -> None:
    elsewhere = FixtureServer()
    other = elsewhere.start()
    try:
        elsewhere.queue(ORDERS, "200-reduced-orders")
        _fault(bol, kind="respond", path_prefix=ORDERS, status=302, headers={"Location": f"{other}{ORDERS}?page=1"})
        hook = _emulator_hook(make_hook, bol)
        with pytest.raises(BolClientError, match=r"HTTP 302: a redirect to http://127\.0\.0\.1:") as caught:
            hook.get_orders_page(1)
        assert not isinstance(caught.value, RETRIABLE_ERRORS)
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


# --- 6. https only (loopback and an explicit opt-in excepted); never user info --------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"api_url": "http://api.bol.com"},
        {"login_url": "http://login.bol.com/token"},
        {"api_url": "http://bol-emulator:8765", "allow_insecure_http": False},
    ],
)
def test_plain_http_to_another_host_is_refused(set_connection: Callable[..., str], extra: dict[str, Any]) -> None:
    set_connection("bol_http", **extra)
    with pytest.raises(BolConfigError, match=r"must use https.*allow_insecure_http"):
        _ = BolRetailerHook("bol_http").settings


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "127.0.0.2"])
def test_plain_http_to_a_loopback_host_is_accepted(set_connection: Callable[..., str], host: str) -> None:
    set_connection("bol_local", api_url=f"http://{host}", login_url=f"http://{host}/token")
    assert BolRetailerHook("bol_local").settings.api_url == f"http://{host}"


def test_allow_insecure_http_accepts_a_local_emulator_and_warns_once(
    set_connection: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    url = "http://bol-emulator:8765"
    conn_id = f"bol_demo_{uuid.uuid4().hex[:6]}"
    set_connection(conn_id, api_url=url, login_url=f"{url}/token", allow_insecure_http=True)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert BolRetailerHook(conn_id).settings.api_url == url
    warnings = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1
    assert f"({url}, {url}/token)" in warnings[0]


@pytest.mark.parametrize(
    "url",
    ["https://user:pa55word-xyz@api.bol.com", "https://pa55word-xyz@api.bol.com", "http://u:pa55word-xyz@127.0.0.1"],
)
def test_user_info_in_a_url_is_always_refused_without_echoing_it(set_connection: Callable[..., str], url: str) -> None:
    set_connection("bol_userinfo", api_url=url, allow_insecure_http=True)
    with pytest.raises(BolConfigError, match="must not contain user info") as caught:
        _ = BolRetailerHook("bol_userinfo").settings
    assert "pa55word-xyz" not in str(caught.value)


# --- 7. response size cap -------------------------------------------------------------------------------


def test_a_response_larger_than_the_cap_is_refused(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook]
) -> None:
    big = json.dumps({"orders": [{"orderId": str(i), "orderItems": []} for i in range(500)]})
    _fault(bol, kind="respond", path_prefix=ORDERS, headers={"Content-Type": "application/json"}, body=big)
    hook = _emulator_hook(make_hook, bol, max_response_bytes=4096)
    with pytest.raises(BolResponseError, match="larger than 4096 bytes, the connection's max_response_bytes"):
        hook.get_orders_page(1)
    assert hook.metrics.api_calls == 1  # not retried: the answer would not shrink


def test_a_streamed_response_is_cut_at_the_cap(make_hook: Callable[..., BolRetailerHook]) -> None:
    chunk = b"x" * 1000
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(50)) + b"0\r\n\r\n"
    server = RawServer(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    )
    try:
        with pytest.raises(BolResponseError, match="larger than 2048 bytes"):
            make_hook(server.url, max_response_bytes=2048).get_orders_page(1)
    finally:
        server.close()


def test_the_default_cap_is_64_mib(set_connection: Callable[..., str]) -> None:
    set_connection("bol_defaults")
    assert BolRetailerHook("bol_defaults").settings.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 64 * 1024**2


# --- 8. every connection setting validated --------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"rate_limit_per_hour": 0.5}, "'rate_limit_per_hour' must be a whole number from 1 to"),
        ({"rate_limit_per_second": "nan"}, "'rate_limit_per_second' must be a number"),
        ({"rate_limit_per_second": "inf"}, "'rate_limit_per_second' must be a number"),
        ({"rate_limit_per_second": 1e999}, "'rate_limit_per_second' must be a number"),
        ({"rate_limit_per_second": []}, "'rate_limit_per_second' must be a number"),
        ({"timeout_seconds": 0}, "'timeout_seconds' must be a number from 0.1"),
        ({"timeout_seconds": "0"}, "'timeout_seconds' must be a number from 0.1"),
        ({"max_attempts": 2.5}, "'max_attempts' must be a whole number"),
        ({"max_attempts": True}, "'max_attempts' must be a whole number"),
        ({"max_attempts": 500}, "'max_attempts' must be a whole number from 1 to 20"),
        ({"max_response_bytes": 10}, "'max_response_bytes' must be a whole number from 1024"),
        ({"rate_limit_per_secnd": 2}, "unknown extra 'rate_limit_per_secnd'"),
        ({"endpoint_rate_limits": {"GET /retailer/order": [5, 1]}}, "unknown endpoint"),
        ({"endpoint_rate_limits": {"GET /retailer/orders": [0.5, 60]}}, "requests must be a whole number"),
        ({"endpoint_rate_limits": {"GET /retailer/orders": [5, "nan"]}}, "seconds must be a number"),
        ({"endpoint_rate_limits": [["GET /retailer/orders", 5, 60]]}, "must map 'METHOD /path'"),
        ({"allow_insecure_http": "yes"}, "'allow_insecure_http' must be true or false"),
        ({"api_url": 42}, "'api_url' must be a URL string"),
        ({"retailer_id": "shop-1"}, "'retailer_id' must be bol's numeric retailer"),
        ({"grant_type": "password"}, "'grant_type' must be"),
    ],
)
def test_bad_settings_name_the_connection_and_the_key(
    set_connection: Callable[..., str], extra: dict[str, Any], message: str
) -> None:
    set_connection("bol_bad", **extra)
    with pytest.raises(BolConfigError, match=message) as caught:
        _ = BolRetailerHook("bol_bad").settings
    assert "connection 'bol_bad'" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_numeric_strings_and_the_forms_prefixed_keys_are_read(set_connection: Callable[..., str]) -> None:
    set_connection(
        "bol_uri_style",
        rate_limit_per_second="2.5",
        extra__bol_retailer__max_attempts="3",
        extra__bol_retailer__api_url=None,
        personal_data={"store": False},
    )
    settings = BolRetailerHook("bol_uri_style").settings
    assert (settings.rate_limit_per_second, settings.max_attempts, settings.api_url) == (2.5, 3, "https://api.bol.com")


@pytest.mark.parametrize(
    ("extra", "message"), [("{not json", "is not valid JSON"), ("[1, 2]", "must be a JSON object")]
)
def test_extras_that_are_not_a_json_object_are_refused(
    monkeypatch: pytest.MonkeyPatch, extra: str, message: str
) -> None:
    payload = {"conn_type": "bol_retailer", "login": "client-x", "password": SECRET, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_BOL_BADJSON", json.dumps(payload))
    with pytest.raises(BolConfigError, match=f"connection 'bol_badjson': its extra {message}"):
        _ = BolRetailerHook("bol_badjson").settings


# --- 9. / 10. the connection itself ---------------------------------------------------------------------


def test_an_unknown_connection_is_a_fatal_config_error_naming_how_to_create_it() -> None:
    with pytest.raises(BolConfigError) as caught:
        _ = BolRetailerHook("bol_no_such_shop").settings
    message = str(caught.value)
    assert "connection 'bol_no_such_shop' does not exist" in message
    assert "airflow connections add bol_no_such_shop --conn-type bol_retailer" in message
    assert "AIRFLOW_CONN_BOL_NO_SUCH_SHOP" in message
    assert not isinstance(caught.value, RETRIABLE_ERRORS)


@pytest.mark.parametrize("conn_type", ["", None])
def test_a_connection_without_the_bol_type_is_refused(
    monkeypatch: pytest.MonkeyPatch, fixture_server: tuple[FixtureServer, str], conn_type: str | None
) -> None:
    server, url = fixture_server
    payload: dict[str, Any] = {"login": "client-x", "password": SECRET, "extra": {"login_url": f"{url}/token"}}
    if conn_type is not None:
        payload["conn_type"] = conn_type
    monkeypatch.setenv("AIRFLOW_CONN_BOL_UNTYPED", json.dumps(payload))
    hook = BolRetailerHook("bol_untyped", token_cache=MemoryTokenCache(), state=MemorySharedState())
    with pytest.raises(BolConfigError, match="has type 'none'; it must be 'bol_retailer'"):
        hook.get_retailer_id()
    assert server.requests == []  # no credentials were sent anywhere


# --- 11. reprs --------------------------------------------------------------------------------------------


def test_tokens_and_settings_never_print_their_secrets(
    fixture_server: tuple[FixtureServer, str], make_hook: Callable[..., BolRetailerHook]
) -> None:
    server, url = fixture_server
    value = _token(server)
    hook = make_hook(url, grant_type="authorization_code", refresh_token="rt-initial-secret-1")
    hook._refresh_tokens = MemoryRefreshTokenStore()
    token = hook.tokens.get()
    settings = hook.settings
    logged = logging.makeLogRecord({"msg": "%s %r", "args": (token, settings)}).getMessage()
    shown_forms = (
        repr(token),
        str(token),
        f"{token}",
        f"{token!r}",
        format(token),
        logged,
        repr(settings),
        str(settings),
    )
    for shown in shown_forms:
        assert value not in shown
        assert SECRET not in shown
        assert "rt-initial-secret-1" not in shown
    assert "AccessToken(value='***'" in repr(token)
    assert "1234567" in repr(token)


# --- 12. shared-state locks time out clearly --------------------------------------------------------------


def test_a_held_sqlite_lock_times_out_with_a_clear_error(
    tmp_path: Path, fixture_server: tuple[FixtureServer, str], make_hook: Callable[..., BolRetailerHook]
) -> None:
    _, url = fixture_server
    path = tmp_path / "shared_state.sqlite"
    state = SqliteSharedState(path, lock_timeout=0.3)
    state.claim_once("warm-up", 1)  # creates the file and its tables
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        hook = make_hook(url)
        hook._state = state
        with pytest.raises(BolSharedStateError, match=rf"SQLite file {path} .*stayed locked for more than 0.3 s"):
            hook.get_orders_page(1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert state.claim_once("after", 1)  # usable again once the holder is gone


def test_a_held_thread_lock_times_out_too(tmp_path: Path) -> None:
    state = SqliteSharedState(tmp_path / "s.sqlite", lock_timeout=0.2)
    state._lock.acquire()
    try:
        with pytest.raises(BolSharedStateError, match="another thread of this process"):
            state.pause("cred:x", 1.0)
    finally:
        state._lock.release()


def test_a_held_postgres_advisory_lock_times_out_with_a_clear_error() -> None:
    import psycopg2

    url = postgres_url()
    key = f"cred:lock-test-{uuid.uuid4().hex}"
    holder = psycopg2.connect(url)
    holder.autocommit = True
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
    state = PostgresSharedState(url, lock_timeout=0.5)
    try:
        with pytest.raises(BolSharedStateError, match=r"PostgreSQL .*stayed locked for more than 0.5 s"):
            state.reserve([WindowLimit(key, 5, 1.0, True, "test")], key, f"{key}|x", "ticket", 60.0)
    finally:
        holder.close()
    assert state.reserve([WindowLimit(key, 5, 1.0, True, "test")], key, f"{key}|x", "ticket", 60.0).sent
