"""Load: staged order data into the warehouse in one transaction, streamed in chunks of orders."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bolsync.orders.staging import DETAILS_FILE, LIST_FILE, read_ndjson
from bolsync.orders.transform import order_item_detail_rows, order_item_status_rows, order_rows
from bolsync.warehouse.base import StageSpec
from bolsync.warehouse.connection import Warehouse
from bolsync.warehouse.order_store import ITEM_KEY, ORDER_KEY, UpsertCounts, merge_order_items, merge_orders

log = logging.getLogger(__name__)

#: Orders read, transformed and merged at a time: memory stays flat in the size of the window.
CHUNK_ORDERS = 5_000

T = TypeVar("T")


@dataclass
class LoadResult:
    orders: UpsertCounts = field(default_factory=UpsertCounts)
    items: UpsertCounts = field(default_factory=UpsertCounts)


def chunked(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (``itertools.batched`` arrives in Python 3.12)."""
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def load_staged_orders(conn: Warehouse, retailer_id: str, staging: Path, chunk: int = CHUNK_ORDERS) -> LoadResult:
    """Upsert full orders, then list states, atomically; older states never overwrite newer ones.

    Each staged file is read once, ``chunk`` orders at a time, into staging relations (one row per key:
    the newest state, a later chunk winning a tie), so memory holds one chunk whatever the window's size;
    then one transaction merges the three of them.
    """
    details, listed = staging / DETAILS_FILE, staging / LIST_FILE
    result = LoadResult()
    with (
        conn.staged_latest_many(
            (
                [order_rows(retailer_id, orders), order_item_detail_rows(retailer_id, orders)]
                for orders in chunked(read_ndjson(details), chunk)
            ),
            [StageSpec("bol.orders", ORDER_KEY), StageSpec("bol.order_items", ITEM_KEY, "latest_changed_at")],
        ) as (orders, detail_items),
        conn.staged_latest(
            (order_item_status_rows(retailer_id, c) for c in chunked(read_ndjson(listed), chunk)),
            "bol.order_items",
            ITEM_KEY,
            "latest_changed_at",
        ) as status_items,
        conn.transaction(),
    ):
        if orders:
            result.orders += merge_orders(conn, *orders)
        for items in (detail_items, status_items):
            if items:
                result.items += merge_order_items(conn, *items)
    log.info(
        "Loaded retailer %s: orders +%d/~%d, items +%d/~%d.",
        retailer_id,
        result.orders.inserted,
        result.orders.updated,
        result.items.inserted,
        result.items.updated,
    )
    return result
