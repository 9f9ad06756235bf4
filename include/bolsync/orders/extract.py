"""Extract: stream order-list pages for a window to disk, then fetch full orders the warehouse lacks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bolsync.orders.detail_exchange import DetailExchange, exchanged_details
from bolsync.orders.queries import OrderQuery, date_queries, plan_queries, reaches_window_start
from bolsync.orders.transform import without_personal_data
from bolsync.personal.staging import PersonalStaging
from bolsync.runs.staging import NdjsonWriter, read_ndjson
from bolsync.runs.windows import SyncWindow, oldest_allowed_date
from bolsync_provider.errors import BolClientError, BolNotFound, BolWindowTooOld
from bolsync_provider.hooks.bol_retailer import ORDER_PAGE_SIZE, BolRetailerHook

log = logging.getLogger(__name__)

KnownOrders = Callable[[str, set[str]], set[str]]
Clock = Callable[[], datetime]

#: The files an extract attempt stages: the window's list entries, and the full orders new to the warehouse.
LIST_FILE = "order_list.ndjson"
DETAILS_FILE = "order_details.ndjson"

#: Settle passes after a multi-page read of one query: re-reads while a pass still finds unlisted orders.
MAX_SETTLE_PASSES = 3
#: bol's date and interval filters list no item changed this long after the window's end (its last Dutch date
#: ends within a day of it): a later change time is bad data, kept for the transform to refuse.
LATEST_LISTED = timedelta(days=2)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ExtractResult:
    """What an extract did; small enough for XCom."""

    conn_id: str
    retailer_id: str
    staging_dir: str
    queries: list[str] = field(default_factory=list)
    pages: int = 0
    orders_listed: int = 0
    items_listed: int = 0
    order_details_fetched: int = 0
    order_details_reused: int = 0
    #: Full orders another run fetched at the same time and published (``detail_exchange``).
    order_details_shared: int = 0
    items_outside_window: int = 0
    details_not_found: list[str] = field(default_factory=list)
    #: Order-list calls spent re-reading pages (settle passes); included in ``pages``.
    settle_pages: int = 0
    #: Orders only the settle passes listed (they had moved onto a page already read).
    settle_orders_found: int = 0
    #: Queries whose list still changed in the last settle pass: orders of them may be missing.
    unsettled_queries: list[str] = field(default_factory=list)


def extract_orders(
    hook: BolRetailerHook,
    window: SyncWindow,
    now: datetime,
    staging: Path,
    known_orders: KnownOrders,
    reuse_from: Sequence[Path] = (),
    personal_secret: bytes | None = None,
    exchange_root: Path | None = None,
    warehouse_name: str = "",
    clock: Clock = _utc_now,
) -> ExtractResult:
    """Stage every list item whose latest change falls in ``window`` plus full orders new to the warehouse.

    Items outside the window (bol's date and interval filters are coarser) are left to the run that owns
    them, so a rerun of a window loads exactly what its first run loaded.

    A change-interval query reaches back from each call, so when paging took so long (``clock``: the time
    now) that it no longer reached the window's start, the window is listed again by date.

    Full orders staged by an earlier attempt of the same run (in ``staging`` or one of the ``reuse_from``
    folders) are reused, not fetched again. With ``personal_secret`` (an opted-in account) the customer data
    of new orders is staged apart, in ``personal.ndjson``, for the personal store; otherwise it is dropped.

    With ``exchange_root`` (the staging root every worker mounts) runs listing the same new orders at the
    same time for the warehouse ``warehouse_name`` fetch each detail once between them (``detail_exchange``).
    """
    queries = plan_queries(window, now)
    result = ExtractResult(hook.bol_conn_id, hook.get_retailer_id(), str(staging), [q.describe() for q in queries])
    order_ids, reached = _list_window(hook, queries, window, now, staging, result, clock)
    if not reached:
        dates = date_queries(window, now)
        log.warning(
            "Connection %s: paging %s took until %s, when it no longer reached back to the window's start %s; "
            "listing the window again by date (%s).",
            result.conn_id,
            ", ".join(result.queries),
            clock().isoformat(timespec="seconds"),
            window.start.isoformat(),
            ", ".join(q.describe() for q in dates),
        )
        result.queries += [q.describe() for q in dates]
        order_ids, _ = _list_window(hook, dates, window, now, staging, result, clock)
    result.orders_listed = len(order_ids)
    exchange = None
    if exchange_root is not None:
        exchange = DetailExchange(exchange_root, hook.shared_state, result.retailer_id, warehouse=warehouse_name)
    _fetch_new_orders(hook, result, staging, [staging, *reuse_from], order_ids, known_orders, personal_secret, exchange)
    log.info(
        "Connection %s: %d pages (%d of them settle re-reads), %d orders, %d items in the window (%d outside it) "
        "(%s); %d full orders fetched, %d reused from earlier attempts, %d from concurrent runs.",
        result.conn_id,
        result.pages,
        result.settle_pages,
        result.orders_listed,
        result.items_listed,
        result.items_outside_window,
        ", ".join(result.queries),
        result.order_details_fetched,
        result.order_details_reused,
        result.order_details_shared,
    )
    return result


def _list_window(
    hook: BolRetailerHook,
    queries: Sequence[OrderQuery],
    window: SyncWindow,
    now: datetime,
    staging: Path,
    result: ExtractResult,
    clock: Clock,
) -> tuple[set[str], bool]:
    """Stage the window's list entries of ``queries`` (the list file rewritten from scratch). Returns the
    order ids, and False when a change-interval query no longer reached the window's start by its last call
    (date queries always do)."""
    order_ids: set[str] = set()
    result.items_listed = result.items_outside_window = 0
    result.unsettled_queries = []
    with NdjsonWriter(staging / LIST_FILE, append=False) as listed:
        for query in queries:
            try:
                _list_query(hook, query, window, listed, result, order_ids)
            except BolClientError as error:
                if error.status == 400 and query.latest_change_date:
                    oldest = oldest_allowed_date(now)
                    raise BolWindowTooOld(
                        f"bol refused {query.describe()} as older than the history it keeps: {error}. "
                        f"Start the backfill on {oldest} or later.",
                        first_served=oldest,
                    ) from error
                raise
            if not reaches_window_start(query, window, clock()):
                return order_ids, False
    return order_ids, True


def _list_query(
    hook: BolRetailerHook,
    query: OrderQuery,
    window: SyncWindow,
    listed: NdjsonWriter,
    result: ExtractResult,
    order_ids: set[str],
) -> None:
    """Page through one query, then settle it: bol's list is live and paged by number, so when an order on
    a page already read leaves the list (one of its items changed to another date), every later order
    moves up one place and the one that moves onto that page is never listed, by this run or a later one.

    A multi-page read is therefore followed by settle passes over the pages before the last one (and the
    last one too when it was full: an order could have moved onto it from the page after). A pass reads
    them last page first, so an order that keeps moving forward is met before the pages it can still
    reach; orders not yet seen are staged. Passes repeat while one finds something new, at most
    ``MAX_SETTLE_PASSES`` times; a list that still changed then is logged and recorded as unsettled.
    A single, not full page needs no settle pass (a frequent run's change-interval query stays one page and
    the empty page that ends it). A settle pass reads at most the pages of the first pass, whose own loop
    guard is the hook's (``iter_order_pages``: no full page of repeats, no list that does not end).
    """
    seen: set[str] = set()

    def take(orders: Iterable[dict[str, Any]]) -> int:
        new = 0
        for order in orders:
            order_id = str(order.get("orderId"))
            if order_id in seen:
                continue
            seen.add(order_id)
            new += 1
            in_window = _items_in_window(order, window)
            result.items_outside_window += _count(order.get("orderItems")) - _count(in_window)
            if not in_window:
                continue
            listed.write({**order, "orderItems": in_window})
            order_ids.add(order_id)
            result.items_listed += _count(in_window)
        return new

    pages, last_size = 0, 0
    for page in hook.iter_order_pages(
        latest_change_date=query.latest_change_date, change_interval_minute=query.change_interval_minute
    ):
        pages += 1
        last_size = len(page)
        take(page)
    result.pages += pages
    settle_through = pages - 1 + (1 if last_size >= ORDER_PAGE_SIZE else 0)
    if settle_through < 1:
        return

    calls, found, new = 0, 0, 0
    for _ in range(MAX_SETTLE_PASSES):
        new = 0
        for number in range(settle_through, 0, -1):
            calls += 1
            new += take(
                hook.get_orders_page(
                    number,
                    latest_change_date=query.latest_change_date,
                    change_interval_minute=query.change_interval_minute,
                )
            )
        found += new
        if not new:
            break
    result.pages += calls
    result.settle_pages += calls
    result.settle_orders_found += found
    if new:
        result.unsettled_queries.append(query.describe())
        log.warning(
            "The order list of %s had not settled after %d settle passes (%d extra list calls, %d orders found "
            "only by them, %d in the last pass): it kept changing while it was paged, so orders of it may be "
            "missing. Sync this window again later.",
            query.describe(),
            MAX_SETTLE_PASSES,
            calls,
            found,
            new,
        )
    else:
        log.info(
            "Settled %s: %d pages re-read (%d extra list calls), %d orders found only by the settle passes.",
            query.describe(),
            settle_through,
            calls,
            found,
        )


def _items_in_window(order: dict[str, Any], window: SyncWindow) -> Any:
    """The order's items whose latest change falls in [start, end).

    What the filter cannot judge is kept for the transform to refuse (the load holds the order in the
    quarantine), never silently dropped: an item that is no object, an unreadable time or one without a zone, a
    time more than ``LATEST_LISTED`` after the window (bol's filters list no such item), and an ``orderItems``
    that is no array (returned as it is).
    """
    items = order.get("orderItems") or []
    if not isinstance(items, list):
        return items
    kept = []
    for item in items:
        try:
            changed = datetime.fromisoformat(str(item["latestChangedDateTime"]))
        except (KeyError, TypeError, ValueError):
            kept.append(item)
            continue
        if changed.tzinfo is None or window.start <= changed < window.end or changed > window.end + LATEST_LISTED:
            kept.append(item)
    return kept


def _count(items: Any) -> int:
    """How many items ``orderItems`` names (one for anything that is no array)."""
    return len(items) if isinstance(items, list) else int(bool(items))


def _fetch_new_orders(
    hook: BolRetailerHook,
    result: ExtractResult,
    staging: Path,
    reuse_from: Sequence[Path],
    order_ids: set[str],
    known_orders: KnownOrders,
    personal_secret: bytes | None,
    exchange: DetailExchange | None,
) -> None:
    missing = order_ids - known_orders(result.retailer_id, order_ids)
    reusable = _reusable_details(reuse_from, missing)
    result.order_details_reused = len(reusable)
    # Rewritten from scratch: only this attempt's orders are staged, whatever an earlier attempt left.
    with (
        NdjsonWriter(staging / DETAILS_FILE, append=False) as details,
        PersonalStaging(staging, reuse_from, set(reusable), personal_secret) as personal,
    ):
        for order in reusable.values():
            details.write(order)

        def fetch(order_id: str) -> dict[str, Any] | None:
            try:
                order = hook.get_order(order_id)
            except BolNotFound:
                return None
            personal.add(order)
            return without_personal_data(order)

        for detail in exchanged_details(sorted(missing - set(reusable)), fetch, exchange):
            if detail.order is None:
                log.warning(
                    "Order %s is listed but its detail answers 404; its items keep list data only.", detail.order_id
                )
                result.details_not_found.append(detail.order_id)
                continue
            if detail.fetched:
                result.order_details_fetched += 1
            else:
                result.order_details_shared += 1
            details.write(detail.order)


def _reusable_details(folders: Sequence[Path], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Full orders in ``wanted`` that earlier attempts staged in ``folders`` (first folder wins)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in folders:
        try:
            for order in read_ndjson(folder / DETAILS_FILE):
                order_id = str(order.get("orderId"))
                if order_id in wanted and order_id not in found:
                    found[order_id] = order
        except OSError as error:  # e.g. removed meanwhile by the cleanup of another attempt
            log.info("Staged details in %s not reused: %s", folder, error)
    return found
