"""Load: the staged reads of a run into ``bol.returns``, ``bol.return_item_states`` and
``bol.return_processing_results``, in one transaction, with the scan state the next run's stop rule reads.

Versions. A return item's state is ordered by (handled, number of processing results, when it was read): bol
only handles items and adds processing results, so an older read (a stale page, an older concurrent run committing
later) never overwrites a newer state; ``observed_at`` keeps when the stored state was first read, so a later read
of the same state changes no row. Its processing results are rewritten only together with an accepted item state
(key: the item's rmaId and the result's number, see ``transform``; numbers beyond the accepted count are removed).
A return's row follows the same order over all its items, and its ``handled`` flag is made to agree with its stored
items. Detail fields (title, transporter, track and trace) are never cleared by a list read.

A return the warehouse cannot hold (``transform.ReturnChecks``) is held in the quarantine (stream ``returns``,
keyed by return id) with every read of it in the run, and released when a later load lands it whole. A return
whose detail answered 404 is marked (``not_found_at``) until a list shows it again: it is not re-read by id on
every run meanwhile.

The scan state (``bol.return_scans``) moves only forward, and only for the fulfilment methods whose scan was
complete: an incomplete scan leaves the next run reading from the last complete one's bound.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bolsync.returns.entries import return_id
from bolsync.returns.extract import DETAIL, RETURNS_FILE
from bolsync.returns.spec import RETURN_ITEM_STATES, RETURN_PROCESSING_RESULTS, RETURN_SCANS, RETURNS
from bolsync.returns.transform import (
    DETAIL_COLUMNS,
    ITEM_DTYPES,
    Observation,
    ReturnChecks,
    item_rows,
    result_rows,
    return_rows,
)
from bolsync.runs.quarantine import Quarantine, Rejected, partition
from bolsync.runs.staging import read_ndjson
from bolsync.warehouse.base import UpsertCounts, Warehouse
from bolsync.warehouse.lineage import Lineage

log = logging.getLogger(__name__)

INSERTED_ONLY = {"first_synced_at": "now()"}
#: Item columns that make its state; the detail columns (``transform.DETAIL_COLUMNS``) are filled apart.
ITEM_STATE_COLUMNS = [
    "return_id",
    "order_id",
    "ean",
    "expected_quantity",
    "main_reason",
    "detailed_reason",
    "handled",
    "result_count",
    "processed_quantity",
]
RETURN_STATE_COLUMNS = ["registered_at", "fulfilment_method", "item_count", "handled", "result_count",
                        "state_fingerprint"]  # fmt: skip


@dataclass(frozen=True)
class MethodScanned:
    """What the extract says of one fulfilment method's scan (``extract.MethodScan.info``)."""

    method: str
    started_at: datetime
    complete: bool
    full: bool

    @classmethod
    def of(cls, method: str, info: Mapping[str, Any]) -> MethodScanned:
        return cls(method, datetime.fromisoformat(info["started_at"]), bool(info["complete"]), bool(info["full"]))


@dataclass
class LoadResult:
    returns: UpsertCounts = field(default_factory=UpsertCounts)
    items: UpsertCounts = field(default_factory=UpsertCounts)
    results: UpsertCounts = field(default_factory=UpsertCounts)
    held: list[Rejected] = field(default_factory=list)
    released: int = 0
    marked_not_found: int = 0

    @property
    def held_ids(self) -> set[str]:
        return {r.key for r in self.held}


def newer(progress: Sequence[str]) -> str:
    """SQL: the incoming row (``excluded``) is at least as new as the stored one (``t``): greater ``progress``
    columns first (booleans as 0/1), then a later or equal ``observed_at``."""
    condition = "excluded.observed_at >= t.observed_at"
    for column in reversed(progress):
        new, old = f"excluded.{column}", f"t.{column}"
        if ITEM_DTYPES.get(column) == "boolean":
            new, old = f"(CASE WHEN {new} THEN 1 ELSE 0 END)", f"(CASE WHEN {old} THEN 1 ELSE 0 END)"
        condition = f"({new} > {old} OR ({new} = {old} AND {condition}))"
    return condition


def _state_rules(state: Sequence[str], detail: Sequence[str], when_newer: str) -> tuple[dict[str, str], str]:
    """The assignments and the "really changes" condition of a versioned merge: ``state`` columns follow the newer
    row (``observed_at`` only when the state changes), ``detail`` columns are filled, newest first."""
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM excluded.{c}" for c in state)
    moves = f"({when_newer} AND ({changed}))"
    sets = {c: f"CASE WHEN {when_newer} THEN excluded.{c} ELSE t.{c} END" for c in state}
    sets["observed_at"] = f"CASE WHEN {moves} THEN excluded.observed_at ELSE t.observed_at END"
    conditions = [moves]
    for c in detail:
        sets[c] = f"CASE WHEN {when_newer} THEN coalesce(excluded.{c}, t.{c}) ELSE coalesce(t.{c}, excluded.{c}) END"
        conditions.append(
            f"(excluded.{c} IS NOT NULL AND ((({when_newer}) AND t.{c} IS DISTINCT FROM excluded.{c}) "
            f"OR t.{c} IS NULL))"
        )
    return sets, " OR ".join(conditions)


def merge_returns(conn: Warehouse, frame: pd.DataFrame, lineage: Lineage | None) -> UpsertCounts:
    """Upsert one row per return (see the module docstring); a newer read clears ``not_found_at``."""
    when_newer = newer(["handled", "result_count"])
    sets, update_when = _state_rules(RETURN_STATE_COLUMNS, [], when_newer)
    listed_again = "(t.not_found_at IS NOT NULL AND excluded.observed_at > t.not_found_at)"
    sets["not_found_at"] = f"CASE WHEN {listed_again} THEN NULL ELSE t.not_found_at END"
    inserted, updated = conn.merge(
        RETURNS.name,
        frame,
        RETURNS.key,
        inserted_only=INSERTED_ONLY,
        assignments=sets,
        update_when=f"{update_when} OR {listed_again}",
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


def merge_items(conn: Warehouse, relation: str, columns: Sequence[str], lineage: Lineage | None) -> UpsertCounts:
    """Upsert one row per return item (see the module docstring)."""
    sets, update_when = _state_rules(ITEM_STATE_COLUMNS, DETAIL_COLUMNS, newer(["handled", "result_count"]))
    inserted, updated = conn.merge_relation(
        RETURN_ITEM_STATES.name,
        relation,
        columns,
        RETURN_ITEM_STATES.key,
        inserted_only=INSERTED_ONLY,
        assignments=sets,
        update_when=update_when,
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


def accepted_items(conn: Warehouse, relation: str) -> set[str]:
    """The staged items whose state is at least as new as the stored one (or new): their results are written."""
    on = " AND ".join(f"t.{k} = excluded.{k}" for k in RETURN_ITEM_STATES.key)
    rows = conn.query(
        f"SELECT excluded.rma_id FROM {relation} AS excluded LEFT JOIN {RETURN_ITEM_STATES.name} AS t ON {on} "
        f"WHERE t.rma_id IS NULL OR {newer(['handled', 'result_count'])}"
    )
    return {str(row[0]) for row in rows}


def merge_results(
    conn: Warehouse, retailer_id: str, results: pd.DataFrame, counts: pd.DataFrame, lineage: Lineage | None
) -> UpsertCounts:
    """Upsert the accepted items' processing results and remove their numbers beyond the accepted count
    (``counts``: rma_id, result_count); removed rows count as changed."""
    inserted, updated = conn.merge(
        RETURN_PROCESSING_RESULTS.name,
        results,
        RETURN_PROCESSING_RESULTS.key,
        inserted_only=INSERTED_ONLY,
        lineage=lineage,
    )
    removed = 0
    if not counts.empty:
        with conn.staged(counts, RETURN_ITEM_STATES.name) as accepted:
            removed = len(
                conn.query(
                    f"DELETE FROM {RETURN_PROCESSING_RESULTS.name} AS r WHERE r.retailer_id = ? AND EXISTS "
                    f"(SELECT 1 FROM {accepted} AS a WHERE a.rma_id = r.rma_id AND r.result_number > a.result_count) "
                    "RETURNING r.rma_id",
                    [retailer_id],
                )
            )
    return UpsertCounts(inserted, updated + removed)


def settle_returns_handled(
    conn: Warehouse, retailer_id: str, return_ids: Iterable[str], lineage: Lineage | None
) -> int:
    """Make each touched return's ``handled`` and ``result_count`` agree with its stored items; how many changed."""
    ids = pd.DataFrame({"return_id": sorted(set(return_ids))}, dtype="string")
    if ids.empty:
        return 0
    marks = "".join(f", {column} = {value}" for column, value in (lineage.sql() if lineage else {}).items())
    with conn.staged(ids, RETURNS.name) as touched:
        changed = conn.query(
            f"""UPDATE {RETURNS.name} AS r SET handled = d.handled, result_count = d.result_count{marks}
                FROM (SELECT i.return_id, min(CASE WHEN i.handled THEN 1 ELSE 0 END) = 1 AS handled,
                             sum(i.result_count) AS result_count
                      FROM {RETURN_ITEM_STATES.name} AS i JOIN {touched} AS w ON w.return_id = i.return_id
                      WHERE i.retailer_id = ? GROUP BY i.return_id) AS d
                WHERE r.retailer_id = ? AND r.return_id = d.return_id
                  AND (r.handled IS DISTINCT FROM d.handled OR r.result_count IS DISTINCT FROM d.result_count)
                RETURNING r.return_id""",
            [retailer_id, retailer_id],
        )
    return len(changed)


def mark_not_found(conn: Warehouse, retailer_id: str, not_found: Mapping[str, str]) -> int:
    """Mark returns whose detail answered 404 (unless a read newer than that answer is stored)."""
    marked = 0
    for key, text in sorted(not_found.items()):
        at = datetime.fromisoformat(text)
        marked += len(
            conn.query(
                f"UPDATE {RETURNS.name} SET not_found_at = ? WHERE retailer_id = ? AND return_id = ? "
                "AND observed_at < ? AND (not_found_at IS NULL OR not_found_at < ?) RETURNING return_id",
                [at, retailer_id, key, at, at],
            )
        )
    return marked


def record_scans(conn: Warehouse, retailer_id: str, scans: Sequence[MethodScanned], run_id: str) -> None:
    """Move the scan state of the complete scans forward (never back)."""
    t = RETURN_SCANS
    for scan in scans:
        if not scan.complete:
            continue
        full = scan.started_at if scan.full else None
        conn.execute(
            f"""INSERT INTO {t} (retailer_id, fulfilment_method, last_scan_started_at, last_full_scan_started_at,
                    last_scan_run_id)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (retailer_id, fulfilment_method) DO UPDATE SET
                    last_scan_started_at = CASE WHEN excluded.last_scan_started_at > {t}.last_scan_started_at
                        THEN excluded.last_scan_started_at ELSE {t}.last_scan_started_at END,
                    last_full_scan_started_at = CASE WHEN {t}.last_full_scan_started_at IS NULL
                        OR excluded.last_full_scan_started_at > {t}.last_full_scan_started_at
                        THEN coalesce(excluded.last_full_scan_started_at, {t}.last_full_scan_started_at)
                        ELSE {t}.last_full_scan_started_at END,
                    last_scan_run_id = CASE WHEN excluded.last_scan_started_at > {t}.last_scan_started_at
                        THEN excluded.last_scan_run_id ELSE {t}.last_scan_run_id END""",
            [retailer_id, scan.method, scan.started_at, full, run_id],
        )


def staged_observations(staging: Path) -> list[Observation]:
    """Every read the extract staged, in the order read."""
    return [
        Observation(line["return"], datetime.fromisoformat(line["observed_at"]), line.get("source") == DETAIL)
        for line in read_ndjson(staging / RETURNS_FILE)
    ]


def screen(observations: Sequence[Observation]) -> tuple[list[Observation], list[Rejected]]:
    """The reads of the returns the warehouse can hold, and one rejection per return it cannot (a return with one
    bad read is held whole, with the first bad read)."""
    valid, rejected = partition(observations, ReturnChecks().check, lambda seen: seen.entry)
    held: dict[str, Rejected] = {}
    for record in rejected:
        held.setdefault(record.key, record)
    good = [seen for seen in valid if return_id(seen.entry) not in held]
    return good, list(held.values())


def load_returns(
    conn: Warehouse,
    retailer_id: str,
    staging: Path,
    *,
    scans: Sequence[MethodScanned] = (),
    not_found: Mapping[str, str] | None = None,
    lineage: Lineage | None = None,
    quarantine: Quarantine | None = None,
) -> LoadResult:
    """Merge the staged reads, mark the returns that answered 404, move the scan state; one transaction."""
    good, rejected = screen(staged_observations(staging))
    returns, items = return_rows(retailer_id, good), item_rows(retailer_id, good)
    results = result_rows(retailer_id, good)
    result = LoadResult(held=rejected)
    with conn.transaction():
        result.returns = merge_returns(conn, returns, lineage)
        if not items.empty:
            with conn.staged(items, RETURN_ITEM_STATES.name) as incoming:
                accepted = accepted_items(conn, incoming)
                result.items = merge_items(conn, incoming, list(items.columns), lineage)
            counts = items.loc[items["rma_id"].isin(accepted), ["retailer_id", "rma_id", "result_count"]]
            result.results = merge_results(
                conn, retailer_id, results[results["rma_id"].isin(accepted)], counts, lineage
            )
        result.returns.updated += settle_returns_handled(conn, retailer_id, returns["return_id"], lineage)
        result.marked_not_found = mark_not_found(conn, retailer_id, not_found or {})
        record_scans(conn, retailer_id, scans, lineage.run_id if lineage else "")
        if quarantine is not None:
            landed = {str(key) for key in returns["return_id"]}
            result.released = quarantine.settle(conn, rejected, landed).released
    log.info(
        "Loaded returns of retailer %s: returns +%d/~%d, items +%d/~%d, processing results +%d/~%d; %d returns held "
        "in the quarantine, %d released, %d marked not found.",
        retailer_id,
        result.returns.inserted,
        result.returns.updated,
        result.items.inserted,
        result.items.updated,
        result.results.inserted,
        result.results.updated,
        len(result.held),
        result.released,
        result.marked_not_found,
    )
    return result
