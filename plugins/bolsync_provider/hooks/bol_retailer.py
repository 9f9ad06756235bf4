"""``BolRetailerHook``: typed access to the bol.com Retailer API for one ``bol_retailer`` connection."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from bolsync_provider.auth.cache import RefreshTokenStore, TokenCache, VariableRefreshTokenStore, VariableTokenCache
from bolsync_provider.auth.provider import TokenProvider
from bolsync_provider.budget.rate_budget import RateBudget, budget_for
from bolsync_provider.budget.shared_state import SharedState, shared_state
from bolsync_provider.errors import BolConfigError, BolError, BolInconsistentResponse, BolResponseError
from bolsync_provider.hooks.connection_test import run_test
from bolsync_provider.redaction import remember
from bolsync_provider.settings import CONN_TYPE, BolConnectionSettings, parse_extra
from bolsync_provider.transport.client import V10_JSON, BolTransport
from bolsync_provider.transport.metrics import ApiMetrics

ORDERS_ENDPOINT = "GET /retailer/orders"
ORDER_ENDPOINT = "GET /retailer/orders/{id}"
OFFER_EXPORT_ENDPOINT = "POST /retailer/offers/export"
OFFER_EXPORT_FILE_ENDPOINT = "GET /retailer/offers/export/{id}"
PROCESS_STATUS_ENDPOINT = "GET /shared/process-status/{id}"
OFFERS_V11_ENDPOINT = "GET /retailer/offers"
V10_CSV = "application/vnd.retailer.v10+csv"
V11_JSON = "application/vnd.retailer.v11+json"
#: v11 offers per page: bol's maximum.
OFFERS_PAGE_SIZE = 100
#: A loop guard for the v11 cursor pages (a million offers).
MAX_OFFER_PAGES = 10_000
#: Pages a probe of one day's order list may look at (the backfill planner): far beyond any real day.
MAX_ORDER_PAGES = 2_000
#: Orders per full page of ``GET /retailer/orders`` (fixed by bol).
ORDER_PAGE_SIZE = 50
#: Pages in a row without a new order a pass over an order query may read (orders pushed on while it pages).
MAX_STALE_ORDER_PAGES = 2


@dataclass(frozen=True)
class ApiResponse:
    """One data response as the hook received it: order pages and details, v11 offer pages (decoded JSON),
    the offer export file (CSV text)."""

    endpoint: str
    path: str
    params: Mapping[str, Any]
    body: Any
    received_at: datetime


#: Receives every data response of a hook (e.g. an archive); set ``BolRetailerHook.response_sink``.
ResponseSink = Callable[[ApiResponse], None]


class BolRetailerHook(BaseHook):
    """Client-credentials auth, a per-credential request budget, retries and typed errors.

    No I/O happens in ``__init__``; the connection is read on first use.
    """

    conn_name_attr = "bol_conn_id"
    default_conn_name = "bol_retailer_default"
    conn_type = CONN_TYPE
    hook_name = "bol.com Retailer API"

    def __init__(
        self,
        bol_conn_id: str = default_conn_name,
        *,
        token_cache: TokenCache | None = None,
        budget: RateBudget | None = None,
        session: requests.Session | None = None,
        state: SharedState | None = None,
        refresh_tokens: RefreshTokenStore | None = None,
    ) -> None:
        super().__init__()
        self.bol_conn_id = bol_conn_id
        self._token_cache = token_cache
        self._budget = budget
        self._session = session
        self._state = state
        self._refresh_tokens = refresh_tokens
        self.metrics = ApiMetrics()
        #: Optional: called with every data response before it is checked (see :class:`ApiResponse`).
        self.response_sink: ResponseSink | None = None

    def _received(self, endpoint: str, path: str, params: Mapping[str, Any] | None, body: Any) -> None:
        if self.response_sink is not None:
            self.response_sink(ApiResponse(endpoint, path, dict(params or {}), body, datetime.now(UTC)))

    @cached_property
    def settings(self) -> BolConnectionSettings:
        """The connection's validated settings; BolConfigError (fatal) for a missing or unusable connection."""
        return self.read_settings()

    def read_settings(self) -> BolConnectionSettings:
        """Read and validate the connection (what :attr:`settings` caches once it succeeds)."""
        conn_id = self.bol_conn_id
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise BolConfigError(
                f"connection '{conn_id}' does not exist. Create it as type '{self.conn_type}' with the client id "
                "as login and the client secret as password: in the UI (Admin > Connections, type "
                f"'{self.hook_name}'), with `airflow connections add {conn_id} --conn-type {self.conn_type} "
                "--conn-login <client id> --conn-password <client secret>`, or as the environment variable "
                f"AIRFLOW_CONN_{conn_id.upper()}; or remove it from the accounts to sync."
            ) from None
        if conn.conn_type != self.conn_type:
            raise BolConfigError(
                f"connection '{conn_id}' has type {conn.conn_type or 'none'!r}; it must be '{self.conn_type}' "
                "(bol.com Retailer API), so that bol credentials are never sent for a connection meant for "
                "something else."
            )
        remember(conn.password)
        extra = parse_extra(conn_id, conn.extra)
        settings = BolConnectionSettings.from_connection(conn_id, conn.login, conn.password, extra)
        remember(settings.initial_refresh_token)
        return settings

    @cached_property
    def _http(self) -> requests.Session:
        session = self._session or requests.Session()
        session.headers["User-Agent"] = "bolsync (Apache Airflow)"
        return session

    @cached_property
    def shared_state(self) -> SharedState:
        """Where the credential's rate slots, pauses and token lock live (``[bolsync] shared_state_url``)."""
        return self._state or shared_state()

    @cached_property
    def tokens(self) -> TokenProvider:
        cache = self._token_cache or VariableTokenCache()
        refresh = self._refresh_tokens or VariableRefreshTokenStore()
        return TokenProvider(self.settings, cache, self._http, self.metrics, self.shared_state, refresh)

    @cached_property
    def transport(self) -> BolTransport:
        budget = self._budget or budget_for(self.settings, self.shared_state)
        return BolTransport(self.settings, self.tokens, budget, self._http, self.metrics)

    def get_retailer_id(self) -> str:
        """The seller this credential belongs to: the token's ``aid`` claim, else extra ``retailer_id``.

        Fetches a token when none is cached (a request to the token endpoint).
        """
        from_token = self.tokens.get().retailer_id
        retailer_id = from_token or self.settings.retailer_id
        if not retailer_id:
            raise BolConfigError(
                f"connection '{self.bol_conn_id}': the access token has no 'aid' claim naming the retailer; "
                "set the connection extra 'retailer_id' to your bol retailer (seller) id."
            )
        if from_token and self.settings.retailer_id and from_token != self.settings.retailer_id:
            raise BolConfigError(
                f"connection '{self.bol_conn_id}': extra retailer_id {self.settings.retailer_id} does not match "
                f"the retailer {from_token} the credentials belong to; remove or correct the extra."
            )
        return retailer_id

    def get_orders_page(
        self,
        page: int,
        *,
        latest_change_date: str | None = None,
        change_interval_minute: int | None = None,
    ) -> list[dict[str, Any]]:
        """One page (50 orders) of ``GET /retailer/orders`` for all fulfilment methods and statuses.

        bol ends the list with ``{}`` (or an empty ``orders`` list): that returns ``[]``. Any other body
        (no JSON, another shape, an ``orders`` that is not a list of objects) is a BolResponseError: a page
        that cannot be read must never look like the end of the list.
        """
        params: dict[str, Any] = {"page": page, "fulfilment-method": "ALL", "status": "ALL"}
        if latest_change_date is not None:
            params["latest-change-date"] = latest_change_date
        if change_interval_minute is not None:
            params["change-interval-minute"] = change_interval_minute
        body = self.transport.get_json("/retailer/orders", endpoint=ORDERS_ENDPOINT, params=params)
        self._received(ORDERS_ENDPOINT, "/retailer/orders", params, body)
        where = f"{ORDERS_ENDPOINT} page {page}"
        if not isinstance(body, dict):
            got = "an empty body" if body is None else type(body).__name__
            raise BolResponseError(f"{where}: expected a JSON object with an 'orders' list (or {{}}), got {got}.")
        if not body:
            return []
        orders = body.get("orders")
        if orders is None:
            keys = ", ".join(repr(str(k)[:40]) for k in list(body)[:5])
            raise BolResponseError(
                f"{where}: the body has no 'orders' list (keys: {keys}); refusing to treat it as the end of the "
                "list, which would silently skip orders."
            )
        if not isinstance(orders, list) or not all(isinstance(order, dict) for order in orders):
            raise BolResponseError(f"{where}: 'orders' is not a list of objects.")
        return orders

    def iter_order_pages(
        self, *, latest_change_date: str | None = None, change_interval_minute: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Stream pages until the first empty one: the first pass over a query.

        A full page must list at least one order no earlier page listed. A full page of repeats is a cache or
        pagination fault (page N+1 answering page N's orders) that would silently skip the orders of the page it
        stands for. Orders pushed on by orders arriving in front repeat a few at a time, so a list whose pages
        bring no new order more than ``MAX_STALE_ORDER_PAGES`` times in a row does not end. Both raise
        BolInconsistentResponse (retriable) naming the page and the query.
        """
        query = describe_order_query(latest_change_date, change_interval_minute)
        seen: set[str] = set()
        stale = 0
        for page in itertools.count(1):
            orders = self.get_orders_page(
                page, latest_change_date=latest_change_date, change_interval_minute=change_interval_minute
            )
            if not orders:
                return
            new = {str(order.get("orderId")) for order in orders} - seen
            if not new and len(orders) >= ORDER_PAGE_SIZE:
                raise BolInconsistentResponse(
                    f"{ORDERS_ENDPOINT} {query}: page {page} is a full page of {len(orders)} orders that pages "
                    f"1-{page - 1} listed already (a cache or pagination fault answering an earlier page); the "
                    f"orders of page {page} itself would be skipped, so the listing stops."
                )
            stale = 0 if new else stale + 1
            if stale > MAX_STALE_ORDER_PAGES:
                raise BolInconsistentResponse(
                    f"{ORDERS_ENDPOINT} {query}: pages {page - stale + 1}-{page} listed only orders of earlier "
                    "pages: the list does not end (a pagination fault); stopping instead of paging in a loop."
                )
            seen |= new
            yield orders

    def get_order(self, order_id: str) -> dict[str, Any]:
        """The full order (``GET /retailer/orders/{order-id}``), including personal data.

        Its ``orderId`` must be the one asked for (checked before the caller sees it, so a detail of another
        order is never stored or shared under this id).
        """
        path = f"/retailer/orders/{path_segment(order_id, 'an order')}"
        body = self.transport.get_json(path, endpoint=ORDER_ENDPOINT)
        self._received(ORDER_ENDPOINT, path, None, body)
        if not isinstance(body, dict) or not isinstance(body.get("orderItems"), list):
            raise BolResponseError(f"{ORDER_ENDPOINT} for order {order_id}: the body has no 'orderItems' list.")
        check_order_identity(order_id, body)
        return body

    def get_json(
        self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None, accept: str = V10_JSON
    ) -> Any:
        """The decoded JSON of ``GET path`` (``endpoint``: the label its rate limit and metrics are kept under);
        every answer reaches the response sink (the raw archive). Build ``path`` with :func:`path_segment`."""
        body = self.transport.get_json(path, endpoint=endpoint, params=params, accept=accept)
        self._received(endpoint, path, params, body)
        return body

    def get_object(self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`get_json` of an answer that must be a JSON object (BolResponseError otherwise)."""
        body = self.get_json(path, endpoint=endpoint, params=params)
        if not isinstance(body, dict):
            got = "an empty body" if body is None else type(body).__name__
            raise BolResponseError(f"{endpoint}: expected a JSON object, got {got}.")
        return body

    def get_list_page(
        self, path: str, *, endpoint: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The objects of one page of a bol list (``key``: its list field), ``[]`` at bol's end of the list (``{}``
        or an empty list). Any other body is a BolResponseError: a page that cannot be read must never look like
        the end of the list."""
        body = self.get_json(path, endpoint=endpoint, params=params)
        where = f"{endpoint} ({', '.join(f'{k}={v}' for k, v in (params or {}).items()) or 'no parameters'})"
        if not isinstance(body, dict):
            got = "an empty body" if body is None else type(body).__name__
            raise BolResponseError(f"{where}: expected a JSON object with a {key!r} list (or {{}}), got {got}.")
        if not body:
            return []
        items = body.get(key)
        if items is None:
            keys = ", ".join(repr(str(k)[:40]) for k in list(body)[:5])
            raise BolResponseError(
                f"{where}: the body has no {key!r} list (keys: {keys}); refusing to treat it as the end of the "
                "list, which would silently skip records."
            )
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BolResponseError(f"{where}: {key!r} is not a list of objects.")
        return items

    def request_offer_export(self) -> dict[str, Any]:
        """Ask bol for a CSV export of every offer (v10); returns the process status (``PENDING``)."""
        response = self.transport.request(
            "POST", "/retailer/offers/export", endpoint=OFFER_EXPORT_ENDPOINT, json_body={"format": "CSV"}
        )
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        return _process_status(body, OFFER_EXPORT_ENDPOINT)

    def get_process_status(self, process_status_id: str) -> dict[str, Any]:
        """``GET /shared/process-status/{id}``; ``BolNotFound`` once bol no longer keeps it (stop polling)."""
        path = f"/shared/process-status/{path_segment(process_status_id, 'a process status')}"
        body = self.transport.get_json(path, endpoint=PROCESS_STATUS_ENDPOINT)
        return _process_status(body, PROCESS_STATUS_ENDPOINT)

    def download_offer_export(self, report_id: str) -> str:
        """The export file (``GET /retailer/offers/export/{report-id}``) as CSV text."""
        path = f"/retailer/offers/export/{path_segment(report_id, 'an offer export')}"
        response = self.transport.request("GET", path, endpoint=OFFER_EXPORT_FILE_ENDPOINT, accept=V10_CSV)
        try:
            text = response.content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise BolResponseError(
                f"{OFFER_EXPORT_FILE_ENDPOINT}: the export file is not UTF-8 (byte {error.start})."
            ) from None
        self._received(OFFER_EXPORT_FILE_ENDPOINT, path, None, text)
        return text

    def iter_offers_v11(self, modified_since: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Stream the v11 offer list in cursor pages of up to 100, optionally only offers modified since
        ``modified_since`` (ISO 8601, inclusive)."""
        params: dict[str, Any] = {"page-size": OFFERS_PAGE_SIZE}
        if modified_since is not None:
            params["last-modified-date-time"] = modified_since
        cursors_seen: set[str] = set()
        for _ in range(MAX_OFFER_PAGES):
            body = self.transport.get_json(
                "/retailer/offers", endpoint=OFFERS_V11_ENDPOINT, params=params, accept=V11_JSON
            )
            self._received(OFFERS_V11_ENDPOINT, "/retailer/offers", params, body)
            if not isinstance(body, dict):
                got = "an empty body" if body is None else type(body).__name__
                raise BolResponseError(f"{OFFERS_V11_ENDPOINT}: expected a JSON object, got {got}.")
            if body and "offers" not in body:
                raise BolResponseError(
                    f"{OFFERS_V11_ENDPOINT}: the body has no 'offers' list; refusing to treat it as the end of the "
                    "list, which would silently skip offers."
                )
            offers = body.get("offers") or []
            if not isinstance(offers, list) or not all(isinstance(offer, dict) for offer in offers):
                raise BolResponseError(f"{OFFERS_V11_ENDPOINT}: 'offers' is not a list of objects.")
            if offers:
                yield offers
            page = body.get("page")
            cursor = page.get("nextCursor") if isinstance(page, dict) else None
            if cursor is not None and not isinstance(cursor, str):
                raise BolResponseError(
                    f"{OFFERS_V11_ENDPOINT}: page.nextCursor must be a string or null, got {type(cursor).__name__}."
                )
            if not cursor:  # an empty page that names a next one is not the end of the list
                return
            if cursor in cursors_seen:
                raise BolResponseError(
                    f"{OFFERS_V11_ENDPOINT}: bol sent the next-page cursor {str(cursor)[:40]!r} a second time; "
                    "stopping instead of paging in a loop (sync the offers again later)."
                )
            cursors_seen.add(cursor)
            params = {**params, "cursor": cursor}
        raise BolResponseError(f"{OFFERS_V11_ENDPOINT}: more than {MAX_OFFER_PAGES} pages; stopping (loop guard).")

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's Test button (and ``airflow connections test``): a token and one cheap call,
        answered in a seller's words; it leaves no token, lease or rate slot behind."""
        try:
            ok, message = run_test(self.settings)
        except BolError as error:
            ok, message = False, str(error)
        # The form tests under an id Airflow makes up for each click: name no connection id.
        message = message.replace(f"connection '{self.bol_conn_id}'", "this connection")
        return ok, re.sub(r"^this connection", "This connection", message)


def _process_status(body: Any, endpoint: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not body.get("processStatusId") or not body.get("status"):
        raise BolResponseError(f"{endpoint}: the body is not a process status (no processStatusId/status).")
    return body


def describe_order_query(latest_change_date: str | None, change_interval_minute: int | None) -> str:
    """An order-list filter as bol's query parameter, for messages and logs."""
    if latest_change_date is not None:
        return f"latest-change-date={latest_change_date}"
    if change_interval_minute is not None:
        return f"change-interval-minute={change_interval_minute}"
    return "no change filter"


def path_segment(value: str, what: str) -> str:
    """``value`` encoded as one URL path segment (every reserved character escaped, ``/`` included).

    An empty id, ``.`` or ``..`` is refused: no encoding keeps those from naming another path.
    """
    text = str(value)
    if text in ("", ".", ".."):
        raise BolResponseError(f"refusing to request {what} with id {text!r}: not an id bol hands out.")
    return quote(text, safe="")


def check_order_identity(asked: str, order: Mapping[str, Any]) -> None:
    """Raise unless ``order`` (a full order bol answered for ``asked``) is that order.

    A missing ``orderId`` is malformed (BolResponseError, fatal); another order's id is an inconsistent answer
    (BolInconsistentResponse, retriable: a cache or routing fault that passes).
    """
    answered = order.get("orderId")
    if isinstance(answered, bool) or not isinstance(answered, str | int) or str(answered) == "":
        raise BolResponseError(f"{ORDER_ENDPOINT} for order {asked}: the body has no 'orderId' naming the order.")
    if str(answered) != asked:
        raise BolInconsistentResponse(
            f"{ORDER_ENDPOINT} for order {asked} answered the detail of order {str(answered)[:40]!r}; it is not "
            f"stored or shared under {asked} (a cache or routing fault between bolsync and bol)."
        )
