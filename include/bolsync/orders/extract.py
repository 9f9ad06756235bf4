"""Extract: stream order-list pages for a window to disk, then fetch full orders the warehouse lacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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
    items_outside_window: int = 0
    details_not_found: list[str] = field(default_factory=list)


def extract_orders(
    hook: BolRetailerHook,
    window: SyncWindow,
    now: datetime,
    staging: Path,
    known_orders: KnownOrders,
) -> ExtractResult:
    """Stage every list item whose latest change falls in ``window`` plus full orders new to the warehouse.

    Items outside the window (bol's date and interval filters are coarser) are left to the run that owns
    them, so a rerun of a window loads exactly what its first run loaded.

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
                        in_window = _items_in_window(order, window)
                        result.items_outside_window += len(order.get("orderItems") or []) - len(in_window)
                        if not in_window:
                            continue
                        listed.write({**order, "orderItems": in_window})
                        order_ids.add(str(order.get("orderId")))
                        result.items_listed += len(in_window)
            except BolClientError as error:
                if error.status == 400 and query.latest_change_date:
                    raise BolWindowTooOld(f"bol refused {query.describe()}: {error}") from error
                raise
    result.orders_listed = len(order_ids)
    _fetch_new_orders(hook, result, staging / DETAILS_FILE, order_ids, known_orders)
    log.info(
        "Connection %s: %d pages, %d orders, %d items in the window (%d outside it) (%s); "
        "%d full orders fetched, %d reused.",
        result.conn_id,
        result.pages,
        result.orders_listed,
        result.items_listed,
        result.items_outside_window,
        ", ".join(result.queries),
        result.order_details_fetched,
        result.order_details_reused,
    )
    return result


def _items_in_window(order: dict[str, Any], window: SyncWindow) -> list[dict[str, Any]]:
    """The order's items whose latest change falls in [start, end); unreadable times are kept (and
    rejected with a clear error by the transform), never silently dropped."""
    kept = []
    for item in order.get("orderItems") or []:
        try:
            changed = datetime.fromisoformat(str(item["latestChangedDateTime"]))
        except (KeyError, ValueError):
            kept.append(item)
            continue
        if changed.tzinfo is None or window.start <= changed < window.end:
            kept.append(item)
    return kept


def _fetch_new_orders(
    hook: BolRetailerHook, result: ExtractResult, path: Path, order_ids: set[str], known_orders: KnownOrders
) -> None:
    missing = order_ids - known_orders(result.retailer_id, order_ids)
    reusable = {str(o.get("orderId")): o for o in read_ndjson(path) if str(o.get("orderId")) in missing}
    result.order_details_reused = len(reusable)
    # Rewritten from scratch: only this attempt's orders are staged, whatever an earlier attempt left.
    with NdjsonWriter(path, append=False) as details:
        for order in reusable.values():
            details.write(order)
        for order_id in sorted(missing - set(reusable)):
            try:
                order = hook.get_order(order_id)
            except BolNotFound:
                log.warning("Order %s is listed but its detail answers 404; its items keep list data only.", order_id)
                result.details_not_found.append(order_id)
                continue
            details.write(without_personal_data(order))
            result.order_details_fetched += 1
