"""The hook over real HTTP against responses captured from bol (tests/fixtures/bol_api/fixtures)."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import parse_qs

import pytest

from bolsync_provider.auth.cache import MemoryTokenCache
from bolsync_provider.errors import (
    RETRIABLE_ERRORS,
    BolAuthError,
    BolClientError,
    BolConfigError,
    BolInconsistentResponse,
    BolNotFound,
    BolResponseError,
    BolServerError,
    BolTransportError,
)
from bolsync_provider.hooks.bol_retailer import V10_CSV
from bolsync_provider.transport import retry
from tests.support.fixture_server import Fixture
from tests.support.jwt_tokens import make_jwt, token_body

ORDERS = "/retailer/orders"
SECRET = "secret-value-xyz"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.01)


def _token(server, *, lifetime: int = 300, retailer_id: str | None = "1234567") -> str:
    value = make_jwt(lifetime=lifetime, retailer_id=retailer_id)
    server.queue_fixture("/token", Fixture(200, [("Content-Type", "application/json")], token_body(value)))
    return value


def test_token_request_and_order_page_are_sent_as_bol_expects(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "200-reduced-orders")
    hook = make_hook(url)
    orders = hook.get_orders_page(1, latest_change_date="2026-11-20")
    assert [o["orderId"] for o in orders][:2] == ["1043946570", "1042831430"]
    token_call, page_call = server.requests
    assert token_call.method == "POST"
    assert parse_qs(token_call.body.decode()) == {"grant_type": ["client_credentials"]}
    assert token_call.headers["Authorization"] == "Basic " + base64.b64encode(f"client-x:{SECRET}".encode()).decode()
    assert token_call.headers["Accept"] == "application/json"
    assert "grant_type" not in token_call.query
    assert page_call.headers["Accept"] == "application/vnd.retailer.v10+json"
    assert page_call.headers["Authorization"].startswith("Bearer ey")
    assert parse_qs(page_call.query) == {
        "page": ["1"],
        "fulfilment-method": ["ALL"],
        "status": ["ALL"],
        "latest-change-date": ["2026-11-20"],
    }
    assert hook.get_retailer_id() == "1234567"


def test_empty_page_ends_pagination(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "200-reduced-orders", "200-reduced-orders-empty")
    pages = list(make_hook(url).iter_order_pages(change_interval_minute=30))
    assert len(pages) == 1
    assert [parse_qs(r.query)["page"] for r in server.requests[1:]] == [["1"], ["2"]]


def test_token_is_reused_across_calls_and_hooks(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "200-reduced-orders-empty")
    cache = MemoryTokenCache()
    first = make_hook(url, cache=cache)
    first.get_orders_page(1)
    first.get_orders_page(1)
    make_hook(url, cache=cache).get_orders_page(1)
    assert sum(r.path == "/token" for r in server.requests) == 1
    assert first.metrics.token_requests == 1


def test_expired_jwt_refreshes_once_and_retries(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    _token(server)
    server.queue(ORDERS, "401-jwt-expired", "200-reduced-orders-empty")
    hook = make_hook(url)
    assert hook.get_orders_page(1) == []
    assert [r.path for r in server.requests] == ["/token", ORDERS, "/token", ORDERS]
    assert server.requests[1].headers["Authorization"] != server.requests[3].headers["Authorization"]


def test_expired_jwt_twice_is_an_auth_error(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "401-jwt-expired")
    with pytest.raises(BolAuthError, match="Expired JWT"):
        make_hook(url).get_orders_page(1)
    assert sum(r.path == ORDERS for r in server.requests) == 2


def test_429_honours_retry_after_and_counts(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture(ORDERS, Fixture.json(429, b'{"title":"Too Many Requests","status":429}', Retry_After="1"))
    server.queue(ORDERS, "200-reduced-orders-empty")
    hook = make_hook(url)
    import time

    started = time.monotonic()
    assert hook.get_orders_page(1) == []
    assert time.monotonic() - started >= 1.0
    assert (hook.metrics.throttled, hook.metrics.retries, hook.metrics.api_calls) == (1, 1, 2)


@pytest.mark.parametrize("failure", ["500-internal-server-error", "429-too-many-requests-without-retry-after", "drop"])
def test_transient_failures_are_retried(fixture_server, make_hook, failure: str) -> None:
    server, url = fixture_server
    _token(server)
    if failure == "drop":
        server.queue_fixture(ORDERS, Fixture.dropped())
    else:
        server.queue(ORDERS, failure)
    server.queue(ORDERS, "200-reduced-orders-empty")
    hook = make_hook(url)
    assert hook.get_orders_page(1) == []
    assert hook.metrics.retries == 1


def test_retries_are_capped(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "500-internal-server-error")
    hook = make_hook(url)
    with pytest.raises(BolServerError, match="HTTP 500"):
        hook.get_orders_page(1)
    assert hook.metrics.api_calls == 4


def test_dropped_connections_exhaust_to_a_transport_error(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture(ORDERS, Fixture.dropped())
    with pytest.raises(BolTransportError):
        make_hook(url).get_orders_page(1)


@pytest.mark.parametrize(
    ("fixture", "error"),
    [("403-forbidden-account_is_not_active", BolAuthError), ("404-not-found", BolNotFound)],
)
def test_auth_and_client_errors_are_not_retried(fixture_server, make_hook, fixture: str, error: type) -> None:
    server, url = fixture_server
    _token(server)
    server.queue("/retailer/orders/123", fixture)
    hook = make_hook(url)
    with pytest.raises(error):
        hook.get_order("123")
    assert hook.metrics.api_calls == 1
    assert hook.metrics.retries == 0


def test_bad_request_is_a_fatal_client_error(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture(ORDERS, Fixture.json(400, b'{"title":"Bad Request","status":400,"detail":"bad date"}'))
    hook = make_hook(url)
    with pytest.raises(BolClientError, match="bad date"):
        hook.get_orders_page(1, latest_change_date="yesterday")
    assert hook.metrics.api_calls == 1


def test_bad_credentials_fail_fast_with_advice_and_no_secret(fixture_server, make_hook, caplog) -> None:
    server, url = fixture_server
    server.queue("/token", "401-unauthorized")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BolAuthError) as caught:
        make_hook(url).get_orders_page(1)
    message = str(caught.value)
    assert "invalid_client" in message
    assert "Seller Dashboard" in message
    assert SECRET not in message
    assert SECRET not in caplog.text
    assert sum(r.path == "/token" for r in server.requests) == 1


def test_blocked_ip_404_at_login_is_an_auth_error(fixture_server, make_hook) -> None:
    server, url = fixture_server
    server.queue("/token", "404-not-found")
    with pytest.raises(BolAuthError, match="blocked IP"):
        make_hook(url).get_orders_page(1)


def test_token_value_never_reaches_logs(fixture_server, make_hook, caplog) -> None:
    server, url = fixture_server
    value = _token(server)
    server.queue(ORDERS, "500-internal-server-error", "200-reduced-orders-empty")
    caplog.set_level(logging.DEBUG)
    make_hook(url).get_orders_page(1)
    assert value not in caplog.text
    assert SECRET not in caplog.text


def test_retailer_id_without_aid_comes_from_the_connection(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server, retailer_id=None)
    assert make_hook(url, retailer_id="777").get_retailer_id() == "777"


def test_retailer_id_without_aid_or_extra_is_a_clear_error(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server, retailer_id=None)
    with pytest.raises(BolConfigError, match="set the connection extra 'retailer_id'"):
        make_hook(url).get_retailer_id()


def test_malformed_list_body_is_rejected(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture(ORDERS, Fixture.json(200, b'{"orders": {"not": "a list"}}'))
    with pytest.raises(BolResponseError, match="not a list"):
        make_hook(url).get_orders_page(1)


def test_non_json_200_is_rejected(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "200-string")
    with pytest.raises(BolResponseError, match="not JSON"):
        make_hook(url).get_orders_page(1)


def test_wrong_connection_type_is_refused(set_connection) -> None:
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    set_connection("bol_wrong", conn_type="http")
    with pytest.raises(BolConfigError, match="must be 'bol_retailer'"):
        _ = BolRetailerHook("bol_wrong").settings


def test_test_connection_reports_retailer(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue(ORDERS, "200-reduced-orders-empty")
    assert make_hook(url).test_connection() == (True, "Connected to bol (production) as retailer 1234567.")


def test_a_rejected_cached_token_is_replaced_once(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    _token(server)
    server.queue(ORDERS, "401-unauthorized", "200-reduced-orders-empty")
    assert make_hook(url).get_orders_page(1) == []
    assert [r.path for r in server.requests] == ["/token", ORDERS, "/token", ORDERS]


def test_v11_offers_stop_when_bol_repeats_a_cursor(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    page = b'{"offers": [{"offerId": "o-1"}], "page": {"nextCursor": "c-1"}}'
    for _ in range(3):
        server.queue_fixture("/retailer/offers", Fixture.json(200, page))
    pages = make_hook(url).iter_offers_v11()
    assert next(pages) == [{"offerId": "o-1"}]
    assert next(pages) == [{"offerId": "o-1"}]  # the first cursor: the page it names is fine
    with pytest.raises(BolResponseError, match="next-page cursor 'c-1' a second time"):
        next(pages)


def _orders_page(*numbers: int) -> Fixture:
    orders = [{"orderId": f"O{n:04d}", "orderItems": []} for n in numbers]
    return Fixture.json(200, json.dumps({"orders": orders}).encode())


def test_a_full_page_repeating_the_page_before_is_a_retriable_inconsistency(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    page_1 = _orders_page(*range(50))
    for fixture in (page_1, page_1, _orders_page(*range(100, 120)), Fixture.json(200, b"{}")):
        server.queue_fixture(ORDERS, fixture)  # page 2 answers page 1's orders: page 2's own 50 would be lost
    pages = make_hook(url).iter_order_pages(latest_change_date="2026-11-20")
    assert len(next(pages)) == 50
    with pytest.raises(BolInconsistentResponse, match="latest-change-date=2026-11-20: page 2 is a full page") as caught:
        next(pages)
    assert not isinstance(caught.value, (BolResponseError, *RETRIABLE_ERRORS))  # retried by the task, not fatal
    assert [parse_qs(r.query)["page"] for r in server.requests[1:]] == [["1"], ["2"]]


def test_a_page_with_one_new_order_among_repeats_is_read_on(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    # An order arrived in front while paging: page 2 starts with page 1's last order, then 49 new ones.
    for fixture in (_orders_page(*range(50)), _orders_page(*range(49, 99)), Fixture.json(200, b"{}")):
        server.queue_fixture(ORDERS, fixture)
    pages = list(make_hook(url).iter_order_pages(change_interval_minute=19))
    assert [len(p) for p in pages] == [50, 50]


def test_an_order_list_that_does_not_end_is_stopped(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture(ORDERS, _orders_page(*range(30)))  # every page answers the same 30 orders
    with pytest.raises(BolInconsistentResponse, match="pages 2-4 listed only orders of earlier pages"):
        list(make_hook(url).iter_order_pages(change_interval_minute=19))
    assert [parse_qs(r.query)["page"] for r in server.requests[1:]] == [["1"], ["2"], ["3"], ["4"]]


def test_orders_pushed_on_by_arrivals_may_repeat_at_the_end_of_the_list(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    # 99 orders; two arrive in front after page 2 is read, so page 3 answers the two last ones again.
    for fixture in (_orders_page(*range(50)), _orders_page(*range(50, 99)), _orders_page(97, 98)):
        server.queue_fixture(ORDERS, fixture)
    server.queue_fixture(ORDERS, Fixture.json(200, b"{}"))
    pages = list(make_hook(url).iter_order_pages(latest_change_date="2026-11-20"))
    assert [len(p) for p in pages] == [50, 49, 2]


def test_a_detail_of_another_order_is_refused_naming_both_ids(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    other = json.dumps({"orderId": "O0002", "orderItems": []}).encode()
    server.queue_fixture("/retailer/orders/O0001", Fixture.json(200, other))
    with pytest.raises(BolInconsistentResponse, match="order O0001 answered the detail of order 'O0002'") as caught:
        make_hook(url).get_order("O0001")
    assert not isinstance(caught.value, (BolResponseError, *RETRIABLE_ERRORS))


def test_a_detail_naming_no_order_is_malformed(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    server.queue_fixture("/retailer/orders/O0001", Fixture.json(200, b'{"orderItems": []}'))
    with pytest.raises(BolResponseError, match="no 'orderId'"):
        make_hook(url).get_order("O0001")


def test_every_id_in_a_path_is_encoded_as_one_segment(fixture_server, make_hook) -> None:
    server, url = fixture_server
    _token(server)
    odd = "A/B C?x#y%"
    encoded = "A%2FB%20C%3Fx%23y%25"
    detail = json.dumps({"orderId": odd, "orderItems": []}).encode()
    status = json.dumps({"processStatusId": odd, "status": "PENDING"}).encode()
    server.queue_fixture(f"/retailer/orders/{encoded}", Fixture.json(200, detail))
    server.queue_fixture(f"/shared/process-status/{encoded}", Fixture.json(200, status))
    server.queue_fixture(f"/retailer/offers/export/{encoded}", Fixture(200, [("Content-Type", V10_CSV)], b"offerId\n"))
    hook = make_hook(url)
    assert hook.get_order(odd)["orderId"] == odd
    assert hook.get_process_status(odd)["processStatusId"] == odd
    assert hook.download_offer_export(odd) == "offerId\n"
    assert [r.path for r in server.requests[1:]] == [
        f"/retailer/orders/{encoded}",
        f"/shared/process-status/{encoded}",
        f"/retailer/offers/export/{encoded}",
    ]


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_ids_that_name_no_resource_are_refused_without_a_request(fixture_server, make_hook, bad: str) -> None:
    server, url = fixture_server
    hook = make_hook(url)
    for call, what in (
        (hook.get_order, "an order"),
        (hook.get_process_status, "a process status"),
        (hook.download_offer_export, "an offer export"),
    ):
        with pytest.raises(BolResponseError, match=f"refusing to request {what} with id {bad!r}"):
            call(bad)
    assert server.requests == []
