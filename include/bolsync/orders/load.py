"""Load: staged order data into the warehouse in one transaction, streamed in chunks of orders.

Keys: ``ORDERS`` and ``ORDER_ITEMS`` (declared in ``transform``). An item row is only updated by data whose
``latest_changed_at`` is at least as new as the stored one, so an old page can never overwrite a newer
state; order-detail columns (prices, offer, product) are filled once and kept.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pandas as pd

from bolsync.orders.extract import DETAILS_FILE, LIST_FILE
from bolsync.orders.transform import (
    ITEM_DETAIL_DTYPES,
    ITEM_STATUS_DTYPES,
    ORDER_ITEMS,
    ORDERS,
    order_item_detail_rows,
    order_item_status_rows,
    order_rows,
)
from bolsync.runs.staging import read_ndjson
from bolsync.warehouse.base import UpsertCounts, Warehouse
from bolsync.warehouse.lineage import Lineage

log = logging.getLogger(__name__)

#: Orders read, transformed and merged at a time: memory stays flat in the size of the window.
CHUNK_ORDERS = 5_000

T = TypeVar("T")

MUTABLE_ITEM_COLUMNS = [
    "quantity",
    "quantity_shipped",
    "quantity_cancelled",
    "fulfilment_status",
    "cancellation_request",
    "latest_changed_at",
]
STATUS_FILL_COLUMNS = ["ean", "fulfilment_method"]
DETAIL_ONLY_COLUMNS = [c for c in ITEM_DETAIL_DTYPES if c not in ITEM_STATUS_DTYPES]


def known_order_ids(conn: Warehouse, retailer_id: str, order_ids: Iterable[str]) -> set[str]:
    """The subset of ``order_ids`` already in bol.orders for this retailer."""
    wanted = pd.DataFrame({"order_id": sorted(set(order_ids))}, dtype="string")
    if wanted.empty:
        return set()
    with conn.staged(wanted, ORDERS.name) as wanted_orders:
        rows = conn.query(
            f"SELECT o.order_id FROM {ORDERS.name} o JOIN {wanted_orders} w USING (order_id) WHERE o.retailer_id = ?",
            [retailer_id],
        )
    return {row[0] for row in rows}


def merge_orders(
    conn: Warehouse, relation: str, columns: Sequence[str], lineage: Lineage | None = None
) -> UpsertCounts:
    """Insert new orders from ``relation`` (one row per order); refresh the descriptive columns of known ones."""
    inserted, updated = conn.merge_relation(
        ORDERS.name, relation, columns, ORDERS.key, inserted_only={"first_synced_at": "now()"}, lineage=lineage
    )
    return UpsertCounts(inserted, updated)


def item_merge_rules(columns: Sequence[str]) -> tuple[dict[str, str], str]:
    """The assignments and the "really changes" condition of an item merge, for the columns present.

    Status columns follow the newest ``latest_changed_at`` (a tie goes to the incoming row); ``ean`` and
    ``fulfilment_method`` are filled once; detail-only columns take any non-null incoming value (list pages
    carry none, so they keep what the order detail stored).
    """
    present = set(columns)
    newer = f"excluded.{ORDER_ITEMS.version} >= t.{ORDER_ITEMS.version}"
    sets: dict[str, str] = {}
    changes: list[str] = []
    mutable = [c for c in MUTABLE_ITEM_COLUMNS if c in present]
    for c in mutable:
        sets[c] = f"CASE WHEN {newer} THEN excluded.{c} ELSE t.{c} END"
    if mutable:
        changes.append(f"({newer} AND ({' OR '.join(f't.{c} IS DISTINCT FROM excluded.{c}' for c in mutable)}))")
    for c in (c for c in STATUS_FILL_COLUMNS if c in present):
        sets[c] = f"coalesce(t.{c}, excluded.{c})"
        changes.append(f"(t.{c} IS NULL AND excluded.{c} IS NOT NULL)")
    for c in (c for c in DETAIL_ONLY_COLUMNS if c in present):
        sets[c] = f"coalesce(excluded.{c}, t.{c})"
        changes.append(f"(excluded.{c} IS NOT NULL AND t.{c} IS DISTINCT FROM excluded.{c})")
    return sets, " OR ".join(changes) or "FALSE"


def merge_order_items(
    conn: Warehouse, relation: str, columns: Sequence[str], lineage: Lineage | None = None
) -> UpsertCounts:
    """Upsert item rows of ``relation`` (one row per item): status columns, optionally detail columns.

    Older states never overwrite newer ones; detail columns that are null in ``relation`` keep their
    stored values. Updated counts rows that really changed.
    """
    sets, update_when = item_merge_rules(columns)
    inserted, updated = conn.merge_relation(
        ORDER_ITEMS.name,
        relation,
        columns,
        ORDER_ITEMS.key,
        inserted_only={"first_synced_at": "now()"},
        assignments=sets,
        update_when=update_when,
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


@dataclass
class LoadResult:
    orders: UpsertCounts = field(default_factory=UpsertCounts)
    items: UpsertCounts = field(default_factory=UpsertCounts)


def chunked(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (``itertools.batched`` arrives in Python 3.12)."""
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def load_staged_orders(
    conn: Warehouse, retailer_id: str, staging: Path, chunk: int = CHUNK_ORDERS, lineage: Lineage | None = None
) -> LoadResult:
    """Upsert full orders, then list states, atomically; older states never overwrite newer ones.

    Each staged file is read once, ``chunk`` orders at a time, into staging relations (one row per key:
    the newest state, a later chunk winning a tie), so memory holds one chunk whatever the window's size;
    then one transaction merges the three of them. ``lineage`` marks the rows it inserts or really changes.
    """
    details, listed = staging / DETAILS_FILE, staging / LIST_FILE
    result = LoadResult()
    with (
        conn.staged_latest_many(
            (
                [order_rows(retailer_id, orders), order_item_detail_rows(retailer_id, orders)]
                for orders in chunked(read_ndjson(details), chunk)
            ),
            [ORDERS, ORDER_ITEMS],
        ) as (orders, detail_items),
        conn.staged_latest(
            (order_item_status_rows(retailer_id, c) for c in chunked(read_ndjson(listed), chunk)), ORDER_ITEMS
        ) as status_items,
        conn.transaction(),
    ):
        if orders:
            result.orders += merge_orders(conn, *orders, lineage=lineage)
        for items in (detail_items, status_items):
            if items:
                result.items += merge_order_items(conn, *items, lineage=lineage)
    log.info(
        "Loaded retailer %s: orders +%d/~%d, items +%d/~%d.",
        retailer_id,
        result.orders.inserted,
        result.orders.updated,
        result.items.inserted,
        result.items.updated,
    )
    return result
