"""Idempotent upserts of orders and order items into the warehouse (DuckDB or PostgreSQL), and the
sync_runs audit rows.

Natural keys: (retailer_id, order_id) and (retailer_id, order_item_id). An item row is only updated
by data whose ``latest_changed_at`` is at least as new as the stored one, so an old page can never
overwrite a newer state; order-detail columns (prices, offer, product) are filled once and kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bolsync.orders.transform import ITEM_DETAIL_DTYPES, ITEM_STATUS_DTYPES
from bolsync.warehouse.connection import Warehouse

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


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(self.inserted + other.inserted, self.updated + other.updated)


def known_order_ids(conn: Warehouse, retailer_id: str, order_ids: Iterable[str]) -> set[str]:
    """The subset of ``order_ids`` already in bol.orders for this retailer."""
    wanted = pd.DataFrame({"order_id": sorted(set(order_ids))}, dtype="string")
    if wanted.empty:
        return set()
    with conn.staged(wanted, "bol.orders") as wanted_orders:
        rows = conn.query(
            f"SELECT o.order_id FROM bol.orders o JOIN {wanted_orders} w USING (order_id) WHERE o.retailer_id = ?",
            [retailer_id],
        )
    return {row[0] for row in rows}


ORDER_KEY = ["retailer_id", "order_id"]
ITEM_KEY = ["retailer_id", "order_item_id"]


def merge_orders(conn: Warehouse, relation: str, columns: Sequence[str]) -> UpsertCounts:
    """Insert new orders from ``relation`` (one row per order); refresh the descriptive columns of known ones."""
    inserted, updated = conn.merge_relation(
        "bol.orders", relation, columns, ORDER_KEY, inserted_only={"first_synced_at": "now()"}
    )
    return UpsertCounts(inserted, updated)


def item_merge_rules(columns: Sequence[str]) -> tuple[dict[str, str], str]:
    """The assignments and the "really changes" condition of an item merge, for the columns present.

    Status columns follow the newest ``latest_changed_at`` (a tie goes to the incoming row); ``ean`` and
    ``fulfilment_method`` are filled once; detail-only columns take any non-null incoming value (list pages
    carry none, so they keep what the order detail stored).
    """
    present = set(columns)
    newer = "excluded.latest_changed_at >= t.latest_changed_at"
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


def merge_order_items(conn: Warehouse, relation: str, columns: Sequence[str]) -> UpsertCounts:
    """Upsert item rows of ``relation`` (one row per item): status columns, optionally detail columns.

    Older states never overwrite newer ones; detail columns that are null in ``relation`` keep their
    stored values. Updated counts rows that really changed.
    """
    sets, update_when = item_merge_rules(columns)
    inserted, updated = conn.merge_relation(
        "bol.order_items",
        relation,
        columns,
        ITEM_KEY,
        inserted_only={"first_synced_at": "now()"},
        assignments=sets,
        update_when=update_when,
    )
    return UpsertCounts(inserted, updated)


def record_sync_run(conn: Warehouse, row: Mapping[str, Any]) -> None:
    """Write (or, for the same task try, replace) one bol.sync_runs row."""
    columns = list(row)
    placeholders = ", ".join("?" for _ in columns)
    keys = {"dag_id", "run_id", "task_id", "map_index", "try_number"}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    conn.execute(
        f"""INSERT INTO bol.sync_runs ({", ".join(columns)}) VALUES ({placeholders})
            ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET {updates}""",
        list(row.values()),
    )
