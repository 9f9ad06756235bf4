"""Idempotent writes of one Dutch day's FBB inventory list (the same SQL on DuckDB and PostgreSQL), in the
caller's transaction.

``bol.inventory`` is the stock per (retailer_id, ean) as the latest list gave it. A list updates an EAN only if
its day is no older than the EAN's ``last_seen_on`` (the later load of a day wins); an older list only widens
``first_seen_on``. A full list marks the EANs it no longer names (``listed`` false, ``unlisted_on`` its day),
unless the evidence rule (``runs.evidence``, counted by ``inventory.guard``) holds those deletions: then they stay
listed at their last known stock. An EAN the list names again is listed again.

``bol.inventory_snapshots`` holds the day's list: the stock of every EAN it names, plus, marked
``carried_over``, the last known stock of the EANs it names whose entries were held in the quarantine and, when
its deletions are held (or an entry without an EAN makes the list unable to tell what is gone), of every EAN
live that day it does not name. A rerun of the day replaces the day's rows, writing (and marking with the
lineage) only rows that are new or differ.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from bolsync.inventory import guard
from bolsync.inventory.spec import INVENTORY, INVENTORY_SNAPSHOTS
from bolsync.inventory.transform import InventoryRows
from bolsync.runs import full_list
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence
from bolsync.runs.full_list import StoredRecords
from bolsync.warehouse.base import UpsertCounts, Warehouse
from bolsync.warehouse.lineage import Lineage

log = logging.getLogger(__name__)

#: The stock and descriptive columns a list gives.
LISTED_COLUMNS = ["bsku", "title", "regular_stock", "graded_stock"]
SNAPSHOT_COLUMNS = ["regular_stock", "graded_stock", "carried_over"]
#: Columns set when a row is first inserted, never updated.
INSERTED_ONLY = {"first_synced_at": "now()"}


@dataclass
class InventoryLoad:
    """What one day's list did; ``check`` is its evidence verdict (None: an entry named no usable EAN, so the
    list could not tell which EANs are gone and marked none)."""

    inventory: UpsertCounts = field(default_factory=UpsertCounts)
    snapshots: UpsertCounts = field(default_factory=UpsertCounts)
    unlisted: int = 0
    day_rows: int = 0
    check: DeletionCheck | None = None

    @property
    def held(self) -> int:
        """Deletions held for confirmation."""
        return self.check.held_deletions if self.check else 0


def load_inventory_list(
    conn: Warehouse,
    retailer_id: str,
    rows: InventoryRows,
    day: date,
    *,
    confirmed: bool = False,
    threshold: DeletionThreshold | None = None,
    lineage: Lineage | None = None,
) -> InventoryLoad:
    """Merge the list of ``day`` into ``bol.inventory``, mark (or hold) what it no longer names, write the day's
    snapshot (see the module docstring)."""
    stored = guard.stored_inventory(day)
    marks = lineage.sql() if lineage else {}
    frame = rows.frame.assign(retailer_id=pd.Series(retailer_id, index=rows.frame.index, dtype="string"))
    frame = frame[["retailer_id", *rows.frame.columns]]
    result = InventoryLoad()
    live = stored.count_live(conn, retailer_id)
    with ExitStack() as stack:
        held = None
        if rows.held_keys:
            kept = pd.DataFrame({"retailer_id": retailer_id, "ean": sorted(rows.held_keys)}, dtype="string")
            held = stack.enter_context(conn.staged(kept, INVENTORY.name))
        incoming = stack.enter_context(conn.staged(frame, INVENTORY.name))
        named = stored.count_named(conn, retailer_id, incoming, held)
        result.inventory = merge_inventory(conn, incoming, list(frame.columns), day, lineage)
        if rows.keys_complete:
            missing = stored.count_missing(conn, retailer_id, incoming, held)
            result.check = guard.deletion_check(
                listed=rows.listed,
                evidence=FullListEvidence(live, named, missing),
                threshold=threshold,
                confirmed=confirmed,
            )
            if not result.check.held:
                result.unlisted = mark_unlisted(conn, retailer_id, stored, day, incoming, held, marks)
        keeps_unlisted = result.check is None or result.check.held
        day_frame = snapshot_rows(conn, retailer_id, frame, stored, incoming, held, keeps_unlisted)
        result.snapshots, result.day_rows = write_snapshot(conn, retailer_id, day, day_frame, lineage)
    log.info(
        "FBB inventory of retailer %s on %s: %d EANs listed; +%d new, %d changed, %d no longer listed, %d deletions "
        "held; the day's snapshot has %d EANs.",
        retailer_id,
        day,
        rows.listed,
        result.inventory.inserted,
        result.inventory.updated,
        result.unlisted,
        result.held,
        result.day_rows,
    )
    return result


def merge_inventory(
    conn: Warehouse, incoming: str, columns: list[str], day: date, lineage: Lineage | None
) -> UpsertCounts:
    """Upsert the staged list ``incoming`` into ``bol.inventory``: a list no older than the stored one sets the
    stock and lists the EAN again; any list widens ``first_seen_on``."""
    on = guard.day_sql(day)
    newer = f"{on} >= t.{INVENTORY.version}"
    sets = {c: f"CASE WHEN {newer} THEN excluded.{c} ELSE t.{c} END" for c in LISTED_COLUMNS}
    sets.update(
        listed=f"CASE WHEN {newer} THEN TRUE ELSE t.listed END",
        unlisted_on=f"CASE WHEN {newer} THEN NULL ELSE t.unlisted_on END",
        first_seen_on=f"LEAST(t.first_seen_on, {on})",
        last_seen_on=f"GREATEST(t.last_seen_on, {on})",
    )
    differs = " OR ".join(
        [f"t.{c} IS DISTINCT FROM excluded.{c}" for c in LISTED_COLUMNS]
        + ["NOT t.listed", "t.unlisted_on IS NOT NULL", f"t.last_seen_on < {on}"]
    )
    inserted, updated = conn.merge_relation(
        INVENTORY.name,
        incoming,
        columns,
        INVENTORY.key,
        inserted_only={**INSERTED_ONLY, "listed": "TRUE", "first_seen_on": on, "last_seen_on": on},
        assignments=sets,
        update_when=f"({newer} AND ({differs})) OR t.first_seen_on > {on}",
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


def mark_unlisted(
    conn: Warehouse,
    retailer_id: str,
    stored: StoredRecords,
    day: date,
    incoming: str,
    held: str | None,
    marks: dict[str, str],
) -> int:
    """Mark the listed EANs the list no longer names (``StoredRecords.missing_where``) unlisted on ``day``;
    how many."""
    where = f"{stored.missing_where(incoming, held)} AND o.listed"
    unlisted = int(conn.query(f"SELECT count(*) FROM {INVENTORY.name} AS o WHERE {where}", [retailer_id])[0][0])
    if unlisted:
        marked = "".join(f", {c} = {value}" for c, value in marks.items())
        conn.execute(
            f"UPDATE {INVENTORY.name} AS o SET listed = FALSE, unlisted_on = {guard.day_sql(day)}{marked} "
            f"WHERE {where}",
            [retailer_id],
        )
    return unlisted


def snapshot_rows(
    conn: Warehouse,
    retailer_id: str,
    listed: pd.DataFrame,
    stored: StoredRecords,
    incoming: str,
    held: str | None,
    keeps_unlisted: bool,
) -> pd.DataFrame:
    """The day's rows: the listed EANs' stock, and the last known stock of the EANs it keeps without naming them
    (``carried_over``): those held in the quarantine and, with ``keeps_unlisted``, every EAN live that day."""
    rows = listed[["ean", "regular_stock", "graded_stock"]].assign(carried_over=False)
    kept = f"{stored.live_where()} AND NOT {stored.named(incoming)}"
    if not keeps_unlisted:
        kept = f"{kept} AND {full_list.named(stored.key, held)}" if held else ""
    if kept:
        found = conn.query(
            f"SELECT o.ean, o.regular_stock, o.graded_stock FROM {INVENTORY.name} AS o WHERE {kept}", [retailer_id]
        )
        carried = pd.DataFrame.from_records(found, columns=["ean", "regular_stock", "graded_stock"])
        rows = pd.concat([rows, carried.assign(carried_over=True)], ignore_index=True) if found else rows
    return rows.astype({"ean": "string", "regular_stock": "Int64", "graded_stock": "Int64", "carried_over": "boolean"})


def write_snapshot(
    conn: Warehouse, retailer_id: str, day: date, rows: pd.DataFrame, lineage: Lineage | None
) -> tuple[UpsertCounts, int]:
    """Make the snapshot of ``day`` exactly ``rows``: the day's other rows go, new or differing ones are written;
    (inserted and changed, the day's rows)."""
    frame = rows.assign(
        retailer_id=pd.Series(retailer_id, index=rows.index, dtype="string"),
        snapshot_date=pd.Series([day] * len(rows), index=rows.index, dtype="object"),
    )[["retailer_id", "ean", "snapshot_date", *SNAPSHOT_COLUMNS]]
    table = INVENTORY_SNAPSHOTS.name
    with conn.staged(frame, table) as day_rows:
        conn.execute(
            f"DELETE FROM {table} AS s WHERE s.retailer_id = ? AND s.snapshot_date = {guard.day_sql(day)} "
            f"AND NOT EXISTS (SELECT 1 FROM {day_rows} AS d WHERE d.ean = s.ean)",
            [retailer_id],
        )
        inserted, updated = conn.merge_relation(
            table, day_rows, list(frame.columns), INVENTORY_SNAPSHOTS.key, inserted_only=INSERTED_ONLY, lineage=lineage
        )
    return UpsertCounts(inserted, updated), len(frame)
