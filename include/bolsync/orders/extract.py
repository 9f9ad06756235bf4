"""Extract: stream order-list pages for a window to disk, then fetch full orders the warehouse lacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bolsync.orders.staging import DETAILS_FILE, LIST_FILE, NdjsonWriter, read_ndjson
from bolsync.orders.transform import without_personal_data
from bolsync.windows import SyncWindow, plan_queries
from bolsync_provider.exceptions import BolClientError, BolNotFound, BolWindowTooOld
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)

KnownOrders = Callable[[str, set[str]], set[str]]


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
    details_not_found: list[str] = field(default_factory=list)


def extract_orders(
    hook: BolRetailerHook,
    window: SyncWindow,
    now: datetime,
    staging: Path,
    known_orders: KnownOrders,
) -> ExtractResult:
    """Stage every list item changed in ``window`` plus full orders that are new to the warehouse.

    Full orders staged by an earlier attempt of the same run are reused, not fetched again.
    """
    queries = plan_queries(window, now)
    result = ExtractResult(hook.bol_conn_id, hook.retailer_id, str(staging), [q.describe() for q in queries])
    order_ids: set[str] = set()
    with NdjsonWriter(staging / LIST_FILE, append=False) as listed:
        for query in queries:
            try:
                for page in hook.iter_order_pages(
                    latest_change_date=query.latest_change_date,
                    change_interval_minute=query.change_interval_minute,
                ):
                    result.pages += 1
                    for order in page:
                        listed.write(order)
                        order_ids.add(str(order.get("orderId")))
                        result.items_listed += len(order.get("orderItems") or [])
            except BolClientError as error:
                if error.status == 400 and query.latest_change_date:
                    raise BolWindowTooOld(f"bol refused {query.describe()}: {error}") from error
                raise
    result.orders_listed = len(order_ids)
    _fetch_new_orders(hook, result, staging / DETAILS_FILE, order_ids, known_orders)
    log.info(
        "Connection %s: %d pages, %d orders, %d items listed (%s); %d full orders fetched, %d reused.",
        result.conn_id,
        result.pages,
        result.orders_listed,
        result.items_listed,
        ", ".join(result.queries),
        result.order_details_fetched,
        result.order_details_reused,
    )
    return result


def _fetch_new_orders(
    hook: BolRetailerHook, result: ExtractResult, path: Path, order_ids: set[str], known_orders: KnownOrders
) -> None:
    staged = {str(order.get("orderId")) for order in read_ndjson(path)}
    missing = order_ids - known_orders(result.retailer_id, order_ids)
    result.order_details_reused = len(missing & staged)
    with NdjsonWriter(path, append=True) as details:
        for order_id in sorted(missing - staged):
            try:
                order = hook.get_order(order_id)
            except BolNotFound:
                log.warning("Order %s is listed but its detail answers 404; its items keep list data only.", order_id)
                result.details_not_found.append(order_id)
                continue
            details.write(without_personal_data(order))
            result.order_details_fetched += 1
