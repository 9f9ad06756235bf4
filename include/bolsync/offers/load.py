"""Idempotent writes of one offer list into the warehouse (the same SQL on DuckDB and PostgreSQL).

``bol.offers`` is the current state per (retailer_id, offer_id). A load updates only the columns its source
provided, so switching between the export and v11 never blanks a column the other one fills, and only with a
newer version (``mutation_date_time``), or the same version seen no earlier (``last_seen_at``: the other
source's columns of it); where either side has no version, the later observation wins. A deleted offer comes
back only with a list taken after it was flagged. So a replay of an old day or a late list never takes an offer
back in time: at most it widens ``first_seen_at``/``last_seen_at``, which record every list that saw the offer.

A full list flags the live offers it does not name deleted (never one seen after it was taken), unless the
evidence rule (``runs.evidence``) holds those deletions. Offers the list names but the transform refused (held in
the quarantine, ``held``) are named all the same: never flagged deleted, kept in the day's snapshot at their known
state. Times: see ``offers.listing``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from bolsync.offers import guard
from bolsync.offers.listing import OfferList
from bolsync.offers.snapshots import write_snapshot
from bolsync.offers.spec import OFFERS
from bolsync.offers.transform import OFFER_DTYPES, OfferRows, latest_per_offer
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence
from bolsync.warehouse.lineage import Lineage


@dataclass
class OfferLoadCounts:
    """What one list did; ``check`` is the evidence verdict of a full list (None for an incremental one)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    snapshots: int = 0
    check: DeletionCheck | None = None

    @property
    def held(self) -> int:
        """Deletions held for confirmation."""
        return self.check.held_deletions if self.check else 0


@dataclass(frozen=True)
class OfferSyncState:
    last_sync_at: datetime | None
    last_full_sweep_at: datetime | None
    watermark: datetime | None  # the newest mutation_date_time stored for the retailer


def sync_state(conn: Any, retailer_id: str) -> OfferSyncState:
    row = one(
        conn, "SELECT last_sync_at, last_full_sweep_at FROM bol.offer_sync_state WHERE retailer_id = ?", [retailer_id]
    )
    mark = one(conn, "SELECT max(mutation_date_time) FROM bol.offers WHERE retailer_id = ?", [retailer_id])
    return OfferSyncState(row[0] if row else None, row[1] if row else None, mark[0] if mark else None)


def load_offer_list(
    conn: Any,
    retailer_id: str,
    rows: OfferRows,
    listing: OfferList,
    *,
    confirmed: bool = False,
    threshold: DeletionThreshold | None = None,
    lineage: Lineage | None = None,
    held: Collection[str] = (),
) -> OfferLoadCounts:
    """Upsert the list's offers, flag (or hold) a full list's deletions and write the day's snapshot.

    Counted as updated: offers whose content changed or that come back from deleted. ``lineage`` marks the
    offers and snapshot rows inserted or really changed, and the offers flagged deleted. ``held``: offer ids the
    list names whose rows the transform refused (not loaded, not gone).
    """
    marks = lineage.sql() if lineage else {}
    live = guard.count_live(conn, retailer_id, listing) if listing.full else 0
    counts = OfferLoadCounts()
    with merged_list(conn, retailer_id, rows, listing, marks, held) as merged:
        counts.inserted, counts.updated = merged.inserted, merged.updated
        if listing.full:
            missing = guard.count_missing(conn, retailer_id, listing, merged.relation, merged.held)
            evidence = FullListEvidence(live, merged.named, missing)
            counts.check = guard.deletion_check(
                listing, listed=merged.listed, evidence=evidence, threshold=threshold, confirmed=confirmed
            )
            if not counts.check.held:
                counts.deleted = flag_deleted(conn, retailer_id, listing, merged.relation, marks, merged.held)
        keeps_unlisted = counts.check is None or counts.check.held
        counts.snapshots = write_snapshot(
            conn, retailer_id, listing, merged.relation, merged.values, keeps_unlisted, lineage, merged.held
        )
    return counts


@dataclass(frozen=True)
class MergedList:
    """A list merged into ``bol.offers``: its staged ``relation`` (with the ``values`` columns besides the keys),
    what the merge did, how many offers live when it was taken it names (counted before; full lists only), and
    the staged keys of the offers it names that were ``held`` in the quarantine (None: none)."""

    relation: str
    values: list[str]
    listed: int
    inserted: int
    updated: int
    named: int
    held: str | None = None


@contextmanager
def merged_list(
    conn: Any, retailer_id: str, rows: OfferRows, listing: OfferList, marks: dict[str, str], held: Collection[str] = ()
) -> Iterator[MergedList]:
    """Upsert the list's offers (one row per offer id; none of ``held``) and yield it staged for what follows in
    the transaction.

    A list whose offers are all new goes straight into the table where the engine can (``insert_new``); only its
    keys are staged then, the stored rows being exactly the list's.
    """
    offers = latest_per_offer(rows.frame)
    if held:
        offers = offers[~offers["offer_id"].isin(list(held))]
    frame = offer_rows(retailer_id, offers, rows.provided, listing)
    columns = [c for c in OFFER_DTYPES if c in rows.provided or c == "offer_id"]
    with ExitStack() as stack:
        held_keys = None
        if held:
            kept = pd.DataFrame({"retailer_id": retailer_id, "offer_id": sorted(held)}, dtype="string")
            held_keys = stack.enter_context(conn.staged(kept, OFFERS.name))
        if conn.insert_new(OFFERS.name, frame, OFFERS.key, marks):
            keys = stack.enter_context(conn.staged(frame[list(OFFERS.key)], OFFERS.name))
            # Its listed offers are all new: of the offers live before, it names only held ones.
            named = guard.count_named(conn, retailer_id, listing, held_keys) if listing.full and held_keys else 0
            yield MergedList(keys, [], len(frame), len(frame), 0, named, held_keys)
            return
        incoming = stack.enter_context(conn.staged(frame, OFFERS.name))
        named = guard.count_named(conn, retailer_id, listing, incoming, held_keys) if listing.full else 0
        inserted, updated = upsert_offers(conn, incoming, list(frame.columns), columns, listing, marks)
        yield MergedList(incoming, columns[1:], len(frame), inserted, updated, named, held_keys)


def offer_rows(retailer_id: str, offers: pd.DataFrame, provided: list[str], listing: OfferList) -> pd.DataFrame:
    """The list's rows as ``bol.offers`` rows: its columns, the source, and the interval that saw them."""
    columns = [c for c in OFFER_DTYPES if c in provided or c == "offer_id"]
    index = offers.index
    seen = pd.Series(listing.seen_at, index=index).astype("datetime64[us, UTC]")
    return pd.DataFrame(
        {
            "retailer_id": pd.Series(retailer_id, index=index, dtype="string"),
            **{c: offers[c] for c in [*columns, "extra"]},
            "source": pd.Series(listing.source, index=index, dtype="string"),
            "deleted": pd.Series(False, index=index, dtype="boolean"),
            "first_seen_at": seen,
            "last_seen_at": seen,
        },
        index=index,
    )


def upsert_offers(
    conn: Any,
    incoming: str,
    staged_columns: list[str],
    columns: list[str],
    listing: OfferList,
    marks: dict[str, str],
) -> tuple[int, int]:
    """Merge the staged list ``incoming`` into ``bol.offers`` (see the module docstring); (inserted, updated).

    ``columns``: ``offer_id`` and the offer columns the source provided.
    """
    newer = _newer(columns)
    differs = " OR ".join(
        [f"t.{c} IS DISTINCT FROM excluded.{c}" for c in columns[1:]]
        + ["CAST(t.extra AS VARCHAR) IS DISTINCT FROM CAST(excluded.extra AS VARCHAR)"]
    )
    revived = f"(t.deleted AND coalesce(t.deleted_at <= {listing.listed_sql}, TRUE))"
    changed = f"(({newer}) AND ({differs})) OR {revived}"
    sets = {c: f"CASE WHEN {newer} THEN excluded.{c} ELSE t.{c} END" for c in [*columns[1:], "extra", "source"]}
    sets.update(
        deleted=f"CASE WHEN {revived} THEN FALSE ELSE t.deleted END",
        deleted_at=f"CASE WHEN {revived} THEN NULL ELSE t.deleted_at END",
        first_seen_at="LEAST(t.first_seen_at, excluded.first_seen_at)",
        last_seen_at="GREATEST(t.last_seen_at, excluded.last_seen_at)",
    )
    sets.update({c: f"CASE WHEN {changed} THEN {value} ELSE t.{c} END" for c, value in marks.items()})
    rewrite = (
        f"{changed} OR (({newer}) AND t.source IS DISTINCT FROM excluded.source) "
        "OR t.first_seen_at > excluded.first_seen_at OR t.last_seen_at < excluded.last_seen_at"
    )
    updated = count(
        conn,
        f"SELECT count(*) FROM {incoming} AS excluded JOIN {OFFERS.name} AS t "
        f"ON t.retailer_id = excluded.retailer_id AND t.offer_id = excluded.offer_id WHERE {changed}",
        [],
    )
    inserted, _ = conn.merge_relation(
        OFFERS.name,
        incoming,
        staged_columns,
        OFFERS.key,
        inserted_only=marks,
        assignments=sets,
        update_when=rewrite,
    )
    return int(inserted), updated


def _newer(columns: list[str]) -> str:
    """The incoming row (``excluded``) may replace the stored one (``t``): a newer version, or the same version
    seen no earlier (another source's columns of it); where either has no version, seen no earlier."""
    seen = "excluded.last_seen_at >= t.last_seen_at"
    version = OFFERS.version
    if version not in columns:
        return seen
    return (
        f"CASE WHEN excluded.{version} IS NULL OR t.{version} IS NULL THEN {seen} "
        f"ELSE excluded.{version} > t.{version} OR (excluded.{version} = t.{version} AND {seen}) END"
    )


def flag_deleted(
    conn: Any, retailer_id: str, listing: OfferList, incoming: str, marks: dict[str, str], held: str | None = None
) -> int:
    """Flag the offers a full list misses (``guard.missing_where``) deleted, at the list's time; how many."""
    where = f"{guard.missing_where(listing, incoming, held)} AND NOT o.deleted"
    deleted = count(conn, f"SELECT count(*) FROM {OFFERS.name} AS o WHERE {where}", [retailer_id])
    marked = "".join(f", {c} = {value}" for c, value in marks.items())
    conn.execute(
        f"UPDATE {OFFERS.name} AS o SET deleted = TRUE, deleted_at = {listing.listed_sql}{marked} WHERE {where}",
        [retailer_id],
    )
    return deleted


def record_sync_state(conn: Any, retailer_id: str, *, source: str, seen_at: datetime, full: bool) -> None:
    """The retailer's last sync, and (``full``: a full list whose deletions were applied) its last full sweep."""
    sweep = (
        "GREATEST(coalesce(bol.offer_sync_state.last_full_sweep_at, excluded.last_full_sweep_at), "
        "excluded.last_full_sweep_at)"
    )
    conn.execute(
        f"""INSERT INTO bol.offer_sync_state (retailer_id, last_sync_at, last_source, last_full_sweep_at)
            VALUES (?, ?, ?, ?)
            ON CONFLICT (retailer_id) DO UPDATE SET
                last_sync_at = GREATEST(bol.offer_sync_state.last_sync_at, excluded.last_sync_at),
                last_source = CASE WHEN excluded.last_sync_at >= bol.offer_sync_state.last_sync_at
                    THEN excluded.last_source ELSE bol.offer_sync_state.last_source END,
                last_full_sweep_at = CASE WHEN excluded.last_full_sweep_at IS NULL
                    THEN bol.offer_sync_state.last_full_sweep_at ELSE {sweep} END""",
        [retailer_id, seen_at, source, seen_at if full else None],
    )


def one(conn: Any, sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """The first row, reading the whole result (DuckDB 2 refuses new work while a result is unfinished)."""
    rows = conn.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else None


def count(conn: Any, sql: str, params: list[Any]) -> int:
    row = one(conn, sql, params)
    return int(row[0]) if row else 0
