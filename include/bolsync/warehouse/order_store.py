"""Idempotent upserts of orders and order items into the warehouse (DuckDB or PostgreSQL), and the
sync_runs audit rows.

Natural keys: (retailer_id, order_id) and (retailer_id, order_item_id). An item row is only updated
by data whose ``latest_changed_at`` is at least as new as the stored one, so an old page can never
overwrite a newer state; order-detail columns (prices, offer, product) are filled once and kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bolsync.orders.transform import ITEM_DETAIL_DTYPES, ITEM_STATUS_DTYPES, ORDER_DTYPES
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


def _changed_predicate(columns: Iterable[str]) -> str:
    return " OR ".join(f"t.{c} IS DISTINCT FROM i.{c}" for c in columns)


def upsert_orders(conn: Warehouse, orders: pd.DataFrame) -> UpsertCounts:
    """Insert new orders; refresh the descriptive columns of known ones."""
    if orders.empty:
        return UpsertCounts()
    inserted, updated = conn.merge(
        "bol.orders",
        orders[list(ORDER_DTYPES)],
        ["retailer_id", "order_id"],
        inserted_only={"first_synced_at": "now()"},
    )
    return UpsertCounts(inserted, updated)


def upsert_order_items(conn: Warehouse, items: pd.DataFrame) -> UpsertCounts:
    """Upsert item rows; ``items`` has the status columns and optionally the detail columns.

    Detail columns that are null in ``items`` (list pages carry none) keep their stored values.
    """
    if items.empty:
        return UpsertCounts()
    frame = items.copy()
    for column in DETAIL_ONLY_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=ITEM_DETAIL_DTYPES[column])
    columns = list(ITEM_DETAIL_DTYPES)
    frame = frame[columns]
    newer = "excluded.latest_changed_at >= bol.order_items.latest_changed_at"
    sets = [f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE bol.order_items.{c} END" for c in MUTABLE_ITEM_COLUMNS]
    sets += [f"{c} = coalesce(bol.order_items.{c}, excluded.{c})" for c in STATUS_FILL_COLUMNS]
    sets += [f"{c} = coalesce(excluded.{c}, bol.order_items.{c})" for c in DETAIL_ONLY_COLUMNS]
    with conn.staged(frame, "bol.order_items") as incoming_items:
        inserted, updated = conn.execute(
            f"""SELECT count(*) FILTER (WHERE t.order_item_id IS NULL),
                       count(*) FILTER (WHERE t.order_item_id IS NOT NULL AND (
                           (i.latest_changed_at >= t.latest_changed_at AND ({_changed_predicate(MUTABLE_ITEM_COLUMNS)}))
                           OR {
                " OR ".join(f"(i.{c} IS NOT NULL AND t.{c} IS DISTINCT FROM i.{c})" for c in DETAIL_ONLY_COLUMNS)
            }))
                FROM {incoming_items} i
                LEFT JOIN bol.order_items t USING (retailer_id, order_item_id)"""
        ).fetchone() or (0, 0)
        conn.execute(
            f"""INSERT INTO bol.order_items ({", ".join(columns)}, first_synced_at)
                SELECT {", ".join(columns)}, now() FROM {incoming_items}
                ON CONFLICT (retailer_id, order_item_id) DO UPDATE SET {", ".join(sets)}
                WHERE ({newer}) OR {" OR ".join(f"excluded.{c} IS NOT NULL" for c in DETAIL_ONLY_COLUMNS)}"""
        )
    return UpsertCounts(int(inserted), int(updated))


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
