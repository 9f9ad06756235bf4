"""Load: the staged reads of a run into ``bol.shipments`` and ``bol.shipment_items``, in one transaction, with the
span of shipment times the run's complete scans read (``bol.shipment_scans``, the next run's stop bound).

Versions. A shipment's list fields change only with a read at least as new as the stored one and only when they
differ (``observed_at`` keeps when the stored state was first read, so a later read of the same state changes no
row); its detail fields (transport, events, pickup point) follow the newest detail read and are never cleared by a
list read; ``detail_read_at`` moves only when the detail's content changed. Items follow the same rule by
``detail_read_at``. An older read loaded after a newer one changes nothing.

A shipment the warehouse cannot hold (``transform.ShipmentChecks``) is held in the quarantine (stream
``shipments``, keyed by shipment id) with its first bad read, and released when a later load lands it whole; it
has no stored detail, so the next run asks for its detail again.

The scan span moves only outward, and only for the fulfilment methods whose scan was complete.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bolsync.runs.quarantine import Quarantine, Rejected, partition
from bolsync.runs.staging import read_ndjson
from bolsync.shipments.entries import order_id, shipment_id
from bolsync.shipments.extract import DETAIL, SHIPMENTS_FILE
from bolsync.shipments.spec import SHIPMENT_ITEMS, SHIPMENT_SCANS, SHIPMENTS
from bolsync.shipments.transform import (
    DETAIL_COLUMNS,
    ITEM_DTYPES,
    LIST_COLUMNS,
    Observation,
    ShipmentChecks,
    item_rows,
    shipment_rows,
)
from bolsync.warehouse.base import UpsertCounts, Warehouse
from bolsync.warehouse.lineage import Lineage

log = logging.getLogger(__name__)

INSERTED_ONLY = {"first_synced_at": "now()"}
ITEM_CONTENT = [c for c in ITEM_DTYPES if c not in (*SHIPMENT_ITEMS.key, "detail_read_at")]


@dataclass(frozen=True)
class MethodScanned:
    """What the extract says of one fulfilment method's scan (``extract.MethodScan.info``)."""

    method: str
    started_at: datetime
    covered_from: datetime
    covered_to: datetime
    complete: bool

    @classmethod
    def of(cls, method: str, info: Mapping[str, Any]) -> MethodScanned:
        return cls(
            method,
            datetime.fromisoformat(info["started_at"]),
            datetime.fromisoformat(info["covered_from"]),
            datetime.fromisoformat(info["covered_to"]),
            bool(info["complete"]),
        )


@dataclass
class LoadResult:
    shipments: UpsertCounts = field(default_factory=UpsertCounts)
    items: UpsertCounts = field(default_factory=UpsertCounts)
    held: list[Rejected] = field(default_factory=list)
    released: int = 0
    #: Orders of the held shipments (their personal rows are not stored).
    held_orders: set[str] = field(default_factory=set)


def _changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"t.{c} IS DISTINCT FROM excluded.{c}" for c in columns)


def merge_shipments(conn: Warehouse, relation: str, columns: Sequence[str], lineage: Lineage | None) -> UpsertCounts:
    """Upsert one row per shipment (see the module docstring)."""
    list_newer = "excluded.observed_at >= t.observed_at"
    list_moves = f"({list_newer} AND ({_changed(LIST_COLUMNS)}))"
    detail_newer = (
        "(excluded.detail_read_at IS NOT NULL "
        "AND (t.detail_read_at IS NULL OR excluded.detail_read_at >= t.detail_read_at))"
    )
    detail_moves = f"({detail_newer} AND (t.detail_read_at IS NULL OR {_changed(DETAIL_COLUMNS)}))"
    sets = {c: f"CASE WHEN {list_moves} THEN excluded.{c} ELSE t.{c} END" for c in (*LIST_COLUMNS, "observed_at")}
    sets.update(
        {c: f"CASE WHEN {detail_moves} THEN excluded.{c} ELSE t.{c} END" for c in (*DETAIL_COLUMNS, "detail_read_at")}
    )
    inserted, updated = conn.merge_relation(
        SHIPMENTS.name,
        relation,
        columns,
        SHIPMENTS.key,
        inserted_only=INSERTED_ONLY,
        assignments=sets,
        update_when=f"{list_moves} OR {detail_moves}",
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


def merge_items(conn: Warehouse, relation: str, columns: Sequence[str], lineage: Lineage | None) -> UpsertCounts:
    """Upsert one row per shipment item: a newer detail read whose content differs."""
    inserted, updated = conn.merge_relation(
        SHIPMENT_ITEMS.name,
        relation,
        columns,
        SHIPMENT_ITEMS.key,
        inserted_only=INSERTED_ONLY,
        assignments={c: f"excluded.{c}" for c in (*ITEM_CONTENT, "detail_read_at")},
        update_when=f"excluded.detail_read_at >= t.detail_read_at AND ({_changed(ITEM_CONTENT)})",
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


def record_scans(conn: Warehouse, retailer_id: str, scans: Sequence[MethodScanned], run_id: str) -> None:
    """Widen the span of the complete scans (never narrow it)."""
    t = SHIPMENT_SCANS
    for scan in scans:
        if not scan.complete:
            continue
        conn.execute(
            f"""INSERT INTO {t} (retailer_id, fulfilment_method, covered_from, covered_to, last_scan_started_at,
                    last_scan_run_id)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (retailer_id, fulfilment_method) DO UPDATE SET
                    covered_from = LEAST({t}.covered_from, excluded.covered_from),
                    covered_to = GREATEST({t}.covered_to, excluded.covered_to),
                    last_scan_run_id = CASE WHEN excluded.last_scan_started_at > {t}.last_scan_started_at
                        THEN excluded.last_scan_run_id ELSE {t}.last_scan_run_id END,
                    last_scan_started_at = GREATEST({t}.last_scan_started_at, excluded.last_scan_started_at)""",
            [retailer_id, scan.method, scan.covered_from, scan.covered_to, scan.started_at, run_id],
        )


def staged_observations(staging: Path) -> list[Observation]:
    """Every read the extract staged, in the order read."""
    return [
        Observation(
            line["shipment"], str(line["method"]), datetime.fromisoformat(line["observed_at"]), line["source"] == DETAIL
        )
        for line in read_ndjson(staging / SHIPMENTS_FILE)
    ]


def screen(observations: Sequence[Observation]) -> tuple[list[Observation], list[Rejected]]:
    """The reads of the shipments the warehouse can hold, and one rejection per shipment it cannot (a shipment
    with one bad read is held whole, with the first bad read)."""
    valid, rejected = partition(observations, ShipmentChecks().check, lambda seen: seen.entry)
    held: dict[str, Rejected] = {}
    for record in rejected:
        held.setdefault(record.key, record)
    good = [seen for seen in valid if shipment_id(seen.entry) not in held]
    return good, list(held.values())


def load_shipments(
    conn: Warehouse,
    retailer_id: str,
    staging: Path,
    *,
    scans: Sequence[MethodScanned] = (),
    lineage: Lineage | None = None,
    quarantine: Quarantine | None = None,
) -> LoadResult:
    """Merge the staged reads and widen the scan span; one transaction."""
    observations = staged_observations(staging)
    good, rejected = screen(observations)
    held = {record.key for record in rejected}
    shipments, items = shipment_rows(retailer_id, good), item_rows(retailer_id, good)
    result = LoadResult(held=rejected)
    result.held_orders = {
        key for seen in observations if shipment_id(seen.entry) in held for key in [order_id(seen.entry)] if key
    }
    with conn.transaction():
        if not shipments.empty:
            with conn.staged(shipments, SHIPMENTS.name) as incoming:
                result.shipments = merge_shipments(conn, incoming, list(shipments.columns), lineage)
        if not items.empty:
            with conn.staged(items, SHIPMENT_ITEMS.name) as incoming:
                result.items = merge_items(conn, incoming, list(items.columns), lineage)
        record_scans(conn, retailer_id, scans, lineage.run_id if lineage else "")
        if quarantine is not None:
            landed = {str(key) for key in shipments["shipment_id"]}
            result.released = quarantine.settle(conn, rejected, landed).released
    log.info(
        "Loaded shipments of retailer %s: shipments +%d/~%d, items +%d/~%d; %d shipments held in the quarantine, "
        "%d released.",
        retailer_id,
        result.shipments.inserted,
        result.shipments.updated,
        result.items.inserted,
        result.items.updated,
        len(result.held),
        result.released,
    )
    return result
