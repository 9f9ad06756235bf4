"""Idempotent writes of offers into the warehouse (the same SQL on DuckDB and PostgreSQL).

``bol.offers`` is the current state per (retailer_id, offer_id); a load updates only the columns its
source provided, so switching between the export and v11 never blanks a column the other one fills.
``seen_at`` is the run's data interval end, not the wall clock, so rerunning a day writes the same rows.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from bolsync.offers.transform import OFFER_DTYPES, OFFER_SNAPSHOTS, OFFERS
from bolsync.warehouse.lineage import Lineage

SNAPSHOT_COLUMNS = [
    "ean",
    "unit_price",
    "stock_amount",
    "corrected_stock",
    "on_hold_by_retailer",
    "fulfilment_type",
    "fulfilment_delivery_code",
    "mutation_date_time",
]


@dataclass
class OfferLoadCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    snapshots: int = 0


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


def upsert_offers(
    conn: Any,
    retailer_id: str,
    offers: pd.DataFrame,
    provided: list[str],
    *,
    source: str,
    seen_at: datetime,
    full: bool,
    lineage: Lineage | None = None,
    held: Collection[str] = (),
) -> OfferLoadCounts:
    """Upsert ``offers`` (one row per offer id); with ``full``, flag the retailer's other offers deleted, but the
    ``held`` ones (listed, but held in the quarantine: they are not gone).

    Counted as updated: offers whose content changed or that come back from deleted. Every offer seen gets
    its ``last_seen_at`` moved on (a rerun of the same day writes nothing). ``lineage`` marks the offers
    inserted, counted as updated or flagged deleted.
    """
    counts = OfferLoadCounts()
    columns = [c for c in OFFER_DTYPES if c in provided or c == "offer_id"]
    index = offers.index
    seen = pd.Series(seen_at, index=index).astype("datetime64[us, UTC]")
    frame = pd.DataFrame(
        {
            "retailer_id": pd.Series(retailer_id, index=index, dtype="string"),
            **{c: offers[c] for c in [*columns, "extra"]},
            "source": pd.Series(source, index=index, dtype="string"),
            "deleted": pd.Series(False, index=index, dtype="boolean"),
            "first_seen_at": seen,
            "last_seen_at": seen,
        },
        index=index,
    )
    changed = " OR ".join(
        [f"t.{c} IS DISTINCT FROM excluded.{c}" for c in columns[1:]]
        + ["CAST(t.extra AS VARCHAR) IS DISTINCT FROM CAST(excluded.extra AS VARCHAR)", "t.deleted"]
    )
    sets = {c: f"excluded.{c}" for c in [*columns[1:], "extra", "source"]}
    sets.update(
        deleted="FALSE",
        deleted_at="NULL",
        first_seen_at="LEAST(t.first_seen_at, excluded.first_seen_at)",
        last_seen_at="GREATEST(t.last_seen_at, excluded.last_seen_at)",
    )
    marks = lineage.sql() if lineage else {}
    sets.update({c: f"CASE WHEN {changed} THEN {value} ELSE t.{c} END" for c, value in marks.items()})
    rewrite = (
        f"{changed} OR t.source IS DISTINCT FROM excluded.source OR t.first_seen_at > excluded.first_seen_at "
        "OR t.last_seen_at < excluded.last_seen_at"
    )
    if conn.insert_new(OFFERS.name, frame, OFFERS.key, marks):
        inserted, updated = len(frame), 0
        if full:
            with conn.staged(frame[["retailer_id", "offer_id"]], OFFERS.name) as incoming:
                counts.deleted = flag_deleted(conn, retailer_id, incoming, seen_at, marks, held)
    else:
        with conn.staged(frame, OFFERS.name) as incoming:
            updated = count(
                conn,
                f"SELECT count(*) FROM {incoming} AS excluded JOIN bol.offers AS t "
                f"ON t.retailer_id = excluded.retailer_id AND t.offer_id = excluded.offer_id WHERE {changed}",
                [],
            )
            inserted, _ = conn.merge_relation(
                OFFERS.name,
                incoming,
                list(frame.columns),
                OFFERS.key,
                inserted_only=marks,
                assignments=sets,
                update_when=rewrite,
            )
            if full:
                counts.deleted = flag_deleted(conn, retailer_id, incoming, seen_at, marks, held)
    counts.inserted, counts.updated = int(inserted), int(updated)
    return counts


def flag_deleted(
    conn: Any, retailer_id: str, incoming: str, seen_at: datetime, marks: dict[str, str], held: Collection[str] = ()
) -> int:
    """Flag the retailer's live offers missing from ``incoming`` (a full list) and from ``held`` deleted; how many."""
    missing = f"retailer_id = ? AND NOT deleted AND offer_id NOT IN (SELECT offer_id FROM {incoming})"
    kept = pd.DataFrame({"offer_id": sorted(held)}, dtype="string")
    with conn.staged(kept, OFFERS.name) if held else nullcontext(None) as listed:
        if listed is not None:
            missing += f" AND offer_id NOT IN (SELECT offer_id FROM {listed})"
        deleted = count(conn, f"SELECT count(*) FROM bol.offers WHERE {missing}", [retailer_id])
        marked = "".join(f", {c} = {value}" for c, value in marks.items())
        conn.execute(
            f"UPDATE bol.offers SET deleted = TRUE, deleted_at = ?{marked} WHERE {missing}", [seen_at, retailer_id]
        )
    return deleted


def write_snapshots(conn: Any, retailer_id: str, snapshot_date: date, lineage: Lineage | None = None) -> int:
    """The day's snapshot = every live offer at its current state; a rerun of the day replaces it, writing
    (and marking with ``lineage``) only the rows that are new or differ."""
    conn.execute(
        f"""DELETE FROM {OFFER_SNAPSHOTS.name} WHERE retailer_id = ? AND snapshot_date = ?
           AND offer_id NOT IN (SELECT offer_id FROM {OFFERS.name} WHERE retailer_id = ? AND NOT deleted)""",
        [retailer_id, snapshot_date, retailer_id],
    )
    marks = lineage.sql() if lineage else {}
    columns = ", ".join([*SNAPSHOT_COLUMNS, *marks])
    values = ", ".join([*SNAPSHOT_COLUMNS, *marks.values()])
    sets = ", ".join(f"{c} = excluded.{c}" for c in [*SNAPSHOT_COLUMNS, *marks])
    changed = " OR ".join(f"{OFFER_SNAPSHOTS.name}.{c} IS DISTINCT FROM excluded.{c}" for c in SNAPSHOT_COLUMNS)
    conn.execute(
        f"""INSERT INTO {OFFER_SNAPSHOTS.name} ({OFFER_SNAPSHOTS.key_sql}, {columns})
            SELECT retailer_id, offer_id, CAST(? AS DATE), {values} FROM {OFFERS.name}
            WHERE retailer_id = ? AND NOT deleted
            ON CONFLICT ({OFFER_SNAPSHOTS.key_sql}) DO UPDATE SET {sets} WHERE {changed}""",
        [snapshot_date, retailer_id],
    )
    return count(
        conn,
        f"SELECT count(*) FROM {OFFER_SNAPSHOTS.name} WHERE retailer_id = ? AND snapshot_date = ?",
        [retailer_id, snapshot_date],
    )


def record_sync_state(conn: Any, retailer_id: str, *, source: str, seen_at: datetime, full: bool) -> None:
    sweep = (
        "GREATEST(coalesce(bol.offer_sync_state.last_full_sweep_at, excluded.last_full_sweep_at), "
        "excluded.last_full_sweep_at)"
    )
    conn.execute(
        f"""INSERT INTO bol.offer_sync_state (retailer_id, last_sync_at, last_source, last_full_sweep_at)
            VALUES (?, ?, ?, ?)
            ON CONFLICT (retailer_id) DO UPDATE SET
                last_sync_at = GREATEST(bol.offer_sync_state.last_sync_at, excluded.last_sync_at),
                last_source = excluded.last_source,
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
