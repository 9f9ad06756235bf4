"""Load: staged order data into the warehouse in one transaction, streamed in chunks of orders.

Keys: ``ORDERS`` and ``ORDER_ITEMS`` (declared in ``transform``). An item row is only updated by data whose
``latest_changed_at`` is at least as new as the stored one, so an old page can never overwrite a newer
state; order-detail columns (prices, offer, product) are filled once and kept.

Orders the warehouse cannot hold (``transform.OrderChecks``) are held in the quarantine (``runs.quarantine``,
stream ``orders``, keyed by order id) and the rest lands. A full order that fails holds the whole order: its
detail and its list entries, so no item lands without its order row and prices. A list entry that fails holds
that entry; a valid full order of it in the same load still lands (it is the newer, complete state of the
whole order). A held order is released when a later load lands its full order with nothing of it held:
``known_order_ids`` leaves held orders out, so the next run listing one fetches its detail again.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from bolsync.orders.extract import DETAILS_FILE, LIST_FILE
from bolsync.orders.spec import ORDER_ITEMS, ORDERS, STREAM
from bolsync.orders.transform import (
    ITEM_DETAIL_DTYPES,
    ITEM_STATUS_DTYPES,
    OrderChecks,
    order_item_detail_rows,
    order_item_status_rows,
    order_rows,
    without_personal_data,
)
from bolsync.runs import values
from bolsync.runs.quarantine import TABLE as QUARANTINE
from bolsync.runs.quarantine import Quarantine, Rejected, partition
from bolsync.runs.staging import read_ndjson
from bolsync.warehouse.base import Staged, Table, UpsertCounts, Warehouse
from bolsync.warehouse.lineage import Lineage, new_row_sql

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
#: Columns set when a row is first inserted, never updated.
INSERTED_ONLY = {"first_synced_at": "now()"}


def known_order_ids(conn: Warehouse, retailer_id: str, order_ids: Iterable[str]) -> set[str]:
    """The subset of ``order_ids`` already in bol.orders for this retailer, less orders held in the quarantine
    (their detail is fetched again, so a valid one lands and releases them)."""
    wanted = pd.DataFrame({"order_id": sorted(set(order_ids))}, dtype="string")
    if wanted.empty:
        return set()
    with conn.staged(wanted, ORDERS.name) as wanted_orders:
        rows = conn.query(
            f"""SELECT o.order_id FROM {ORDERS.name} o JOIN {wanted_orders} w USING (order_id)
                WHERE o.retailer_id = ? AND NOT EXISTS (SELECT 1 FROM {QUARANTINE} q WHERE q.stream = ?
                    AND q.retailer_id = o.retailer_id AND q.record_key = o.order_id AND q.released_at IS NULL)""",
            [retailer_id, STREAM],
        )
    return {row[0] for row in rows}


def merge_orders(
    conn: Warehouse, relation: str, columns: Sequence[str], lineage: Lineage | None = None
) -> UpsertCounts:
    """Insert new orders from ``relation`` (one row per order); refresh the descriptive columns of known ones."""
    inserted, updated = conn.merge_relation(
        ORDERS.name, relation, columns, ORDERS.key, inserted_only=INSERTED_ONLY, lineage=lineage
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


def upsert_order_items(conn: Warehouse, frame: pd.DataFrame, lineage: Lineage | None = None) -> UpsertCounts:
    """:func:`merge_order_items` of a frame (one row per item), whose keys, when all new, land in one write
    where the engine can (``Warehouse.insert_new``), as the chunks of :func:`load_staged_orders` do."""
    if conn.insert_new(ORDER_ITEMS.name, frame, ORDER_ITEMS.key, new_row_sql(INSERTED_ONLY, lineage)):
        return UpsertCounts(len(frame), 0)
    if frame.empty:
        return UpsertCounts()
    with conn.staged(frame, ORDER_ITEMS.name) as incoming:
        return merge_order_items(conn, incoming, list(frame.columns), lineage)


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
        inserted_only=INSERTED_ONLY,
        assignments=sets,
        update_when=update_when,
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


@dataclass
class LoadResult:
    orders: UpsertCounts = field(default_factory=UpsertCounts)
    items: UpsertCounts = field(default_factory=UpsertCounts)
    #: Orders (or list entries) kept out of this load, one per order id.
    held: list[Rejected] = field(default_factory=list)
    #: The orders among them whose full order was kept out (the others' full orders landed, if staged).
    details_held: set[str] = field(default_factory=set)
    #: Orders held by earlier loads that this one landed whole.
    released: int = 0

    @property
    def held_ids(self) -> set[str]:
        return {r.key for r in self.held}


class Screen:
    """Splits a load's staged orders into those the warehouse can hold and those it holds (see the module
    docstring), as the chunks stream by: full orders first, then list entries."""

    def __init__(self, checks: OrderChecks, watched: set[str]) -> None:
        self.checks = checks
        self.held: dict[str, Rejected] = {}
        #: Orders held by their full order.
        self.details_held: set[str] = set()
        #: Orders held by earlier loads: those whose full order lands now are released.
        self.watched = watched
        self._landed: set[str] = set()

    def details(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        good, rejected = partition(orders, self.checks.detail, without_personal_data)
        self._hold(rejected)
        self.details_held.update(r.key for r in rejected)
        self._landed.update(order_id for o in good if (order_id := str(o.get("orderId"))) in self.watched)
        return good

    def listed(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [o for o in orders if str(o.get("orderId")) not in self.held]
        good, rejected = partition(fresh, self.checks.list_entry, without_personal_data)
        self._hold(rejected)
        return good

    def released(self) -> set[str]:
        return self._landed - set(self.held)

    def _hold(self, rejected: list[Rejected]) -> None:
        for record in rejected:
            self.held.setdefault(record.key, record)


def chunked(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (``itertools.batched`` arrives in Python 3.12)."""
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def new_keys_first(
    conn: Warehouse,
    chunks: Iterable[Sequence[pd.DataFrame]],
    specs: Sequence[Table],
    constants: Mapping[str, str],
    landed: list[int],
) -> Iterator[list[pd.DataFrame]]:
    """The chunks (one frame per spec), less the frames ``conn.insert_new`` put straight into their table
    (their rows added to ``landed``, per spec).

    A spec's frames go straight in only while every earlier one did: once one is staged, the later ones are
    staged too, so the merge still lets a later chunk win over an earlier one.
    """
    direct = [True] * len(specs)
    for frames in chunks:
        kept = []
        for number, (spec, frame) in enumerate(zip(specs, frames, strict=True)):
            if direct[number] and not frame.empty and conn.insert_new(spec.name, frame, spec.key, constants):
                landed[number] += len(frame)
                frame = frame.iloc[:0]
            elif not frame.empty:
                direct[number] = False
            kept.append(frame)
        yield kept


def merge_staged(
    conn: Warehouse, orders: Staged, item_relations: Sequence[Staged], lineage: Lineage | None
) -> LoadResult:
    """Merge staged orders, then each staged relation of items in turn."""
    result = LoadResult()
    if orders:
        result.orders += merge_orders(conn, *orders, lineage=lineage)
    for items in item_relations:
        if items:
            result.items += merge_order_items(conn, *items, lineage=lineage)
    return result


def load_staged_orders(
    conn: Warehouse,
    retailer_id: str,
    staging: Path,
    chunk: int = CHUNK_ORDERS,
    lineage: Lineage | None = None,
    quarantine: Quarantine | None = None,
) -> LoadResult:
    """Upsert full orders, then list states, atomically; older states never overwrite newer ones.

    Each staged file is read once, ``chunk`` orders at a time, into staging relations (one row per key:
    the newest state, a later chunk winning a tie), so memory holds one chunk whatever the window's size;
    then one transaction merges the three of them. Where the engine stages inside that transaction
    (PostgreSQL), chunks of full orders whose keys are all new land straight in their tables instead (see
    :func:`new_keys_first`). ``lineage`` marks the rows it inserts or really changes.

    Orders the warehouse cannot hold are kept out (``result.held``); with ``quarantine`` they are held in it
    and held orders that land now are released, in the same transaction.
    """
    details, listed = staging / DETAILS_FILE, staging / LIST_FILE
    extracted_at = lineage.extracted_at if lineage else datetime.now(UTC)
    screen = Screen(
        OrderChecks(values.latest_allowed(extracted_at)), quarantine.open_keys(conn) if quarantine else set()
    )
    landed = [0, 0]
    detail_chunks: Iterable[Sequence[pd.DataFrame]] = (
        [order_rows(retailer_id, orders), order_item_detail_rows(retailer_id, orders)]
        for orders in (screen.details(c) for c in chunked(read_ndjson(details), chunk))
    )
    if conn.stages_in_transaction:
        constants = new_row_sql(INSERTED_ONLY, lineage)
        detail_chunks = new_keys_first(conn, detail_chunks, [ORDERS, ORDER_ITEMS], constants, landed)

    def merges() -> LoadResult:
        merged = merge_staged(conn, orders, [detail_items, status_items], lineage)
        if quarantine is not None:
            merged.released = quarantine.settle(conn, list(screen.held.values()), screen.released()).released
        return merged

    with (
        conn.transaction() if conn.stages_in_transaction else nullcontext(),
        conn.staged_latest_many(detail_chunks, [ORDERS, ORDER_ITEMS]) as (orders, detail_items),
        conn.staged_latest(
            (order_item_status_rows(retailer_id, screen.listed(c)) for c in chunked(read_ndjson(listed), chunk)),
            ORDER_ITEMS,
        ) as status_items,
    ):
        result = conn.run_merges(merges)
    result.orders.inserted += landed[0]
    result.items.inserted += landed[1]
    result.held, result.details_held = list(screen.held.values()), set(screen.details_held)
    log.info(
        "Loaded retailer %s: orders +%d/~%d, items +%d/~%d; %d orders held in the quarantine, %d released.",
        retailer_id,
        result.orders.inserted,
        result.orders.updated,
        result.items.inserted,
        result.items.updated,
        len(result.held),
        result.released,
    )
    return result
