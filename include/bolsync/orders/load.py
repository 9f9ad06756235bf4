"""Load: staged order data into the warehouse in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bolsync.orders.staging import DETAILS_FILE, LIST_FILE, read_ndjson
from bolsync.orders.transform import order_item_detail_rows, order_item_status_rows, order_rows
from bolsync.warehouse.connection import Warehouse
from bolsync.warehouse.order_store import UpsertCounts, upsert_order_items, upsert_orders

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    orders: UpsertCounts
    items: UpsertCounts


def load_staged_orders(conn: Warehouse, retailer_id: str, staging: Path) -> LoadResult:
    """Upsert full orders, then list states, atomically; older states never overwrite newer ones."""
    details = list(read_ndjson(staging / DETAILS_FILE))
    listed = list(read_ndjson(staging / LIST_FILE))
    orders = order_rows(retailer_id, details)
    detail_items = order_item_detail_rows(retailer_id, details)
    status_items = order_item_status_rows(retailer_id, listed)
    with conn.transaction():
        order_counts = upsert_orders(conn, orders)
        item_counts = upsert_order_items(conn, detail_items) + upsert_order_items(conn, status_items)
    log.info(
        "Loaded retailer %s: orders +%d/~%d, items +%d/~%d.",
        retailer_id,
        order_counts.inserted,
        order_counts.updated,
        item_counts.inserted,
        item_counts.updated,
    )
    return LoadResult(order_counts, item_counts)
