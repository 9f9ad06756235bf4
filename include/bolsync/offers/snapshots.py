"""The day's offer snapshot (``bol.offer_snapshots``), from what that day's list said.

Listed offers get the list's values (a column the source lacks: the offer's known state). Offers the list keeps
without naming them (an incremental list; a full list whose deletions are held) get their known state when the
list was taken: the stored offer, unless it has changed since (a replay of an old day), then its newest snapshot
row of that day or before. A full list whose deletions apply gives the offers it names, nothing else. A rerun of
the day replaces the day's rows, writing (and marking with ``lineage``) only rows that are new or differ.
"""

from __future__ import annotations

from typing import Any

from bolsync.offers import guard
from bolsync.offers.listing import OfferList
from bolsync.offers.spec import OFFER_SNAPSHOTS, OFFERS
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


def write_snapshot(
    conn: Any,
    retailer_id: str,
    listing: OfferList,
    incoming: str,
    provided: list[str],
    keeps_unlisted: bool,
    lineage: Lineage | None = None,
    held: str | None = None,
) -> int:
    """Write the snapshot of ``listing.snapshot_date`` from the staged list ``incoming`` (after its upsert; of its
    columns, ``provided`` give the listed values, the others come from the stored offers); ``keeps_unlisted``: the
    offers live then that it does not name belong to the day too; the live ones among the staged keys ``held``
    (listed, but held in the quarantine) always do. Returns the day's rows."""
    day, table = listing.day_sql, OFFER_SNAPSHOTS.name
    newer = f"SELECT count(*) FROM {OFFERS.name} AS o WHERE o.retailer_id = ? AND NOT {listing.current()}"
    if conn.execute(newer, [retailer_id]).fetchall()[0][0]:
        previous, previous_params = _previous(listing, retailer_id)
        known = {c: f"CASE WHEN p.offer_id IS NULL THEN o.{c} ELSE p.{c} END" for c in SNAPSHOT_COLUMNS}
        join = f" LEFT JOIN {previous} AS p ON p.offer_id = o.offer_id"
    else:  # a nightly run: every stored offer is as the list found it, and the history is not read
        previous_params, known, join = [], {c: f"o.{c}" for c in SNAPSHOT_COLUMNS}, ""
    listed = ", ".join(f"i.{c} AS {c}" if c in provided else f"{known[c]} AS {c}" for c in SNAPSHOT_COLUMNS)
    rows = (
        f"SELECT o.retailer_id, o.offer_id, {listed} "
        f"FROM {incoming} AS i JOIN {OFFERS.name} AS o ON o.retailer_id = i.retailer_id AND o.offer_id = i.offer_id"
        f"{join}"
    )
    params = list(previous_params)
    unlisted: str | None = f"{guard.live_where(listing)} AND NOT {guard.named(incoming)}"
    if not keeps_unlisted:
        unlisted = f"{unlisted} AND {guard.named(held)}" if held else None
    if unlisted:
        rows += (
            f" UNION ALL SELECT o.retailer_id, o.offer_id, {', '.join(f'{known[c]} AS {c}' for c in SNAPSHOT_COLUMNS)} "
            f"FROM {OFFERS.name} AS o{join} WHERE {unlisted}"
        )
        params += [*previous_params, retailer_id]
    kept = f" OR EXISTS (SELECT 1 FROM {OFFERS.name} AS o WHERE {unlisted} AND o.offer_id = s.offer_id)"
    conn.execute(
        f"DELETE FROM {table} AS s WHERE s.retailer_id = ? AND s.snapshot_date = {day} AND NOT ("
        f"EXISTS (SELECT 1 FROM {incoming} AS i WHERE i.offer_id = s.offer_id){kept if unlisted else ''})",
        [retailer_id, *([retailer_id] if unlisted else [])],
    )
    marks = lineage.sql() if lineage else {}
    columns = ", ".join([*SNAPSHOT_COLUMNS, *marks])
    values = ", ".join([*SNAPSHOT_COLUMNS, *marks.values()])
    sets = ", ".join(f"{c} = excluded.{c}" for c in [*SNAPSHOT_COLUMNS, *marks])
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in SNAPSHOT_COLUMNS)
    conn.execute(
        f"""INSERT INTO {table} ({OFFER_SNAPSHOTS.key_sql}, {columns})
            SELECT retailer_id, offer_id, {day}, {values} FROM ({rows}) AS day_rows
            ON CONFLICT ({OFFER_SNAPSHOTS.key_sql}) DO UPDATE SET {sets} WHERE {changed}""",
        params,
    )
    found = conn.execute(
        f"SELECT count(*) FROM {table} WHERE retailer_id = ? AND snapshot_date = {day}", [retailer_id]
    ).fetchall()
    return int(found[0][0])


def _previous(listing: OfferList, retailer_id: str) -> tuple[str, list[Any]]:
    """The newest snapshot row, on the list's day or before, of each offer whose stored state is newer than the
    list (a subquery aliased by the caller), and its parameters. Such offers come from a replay or a late list:
    in a nightly run there are none, and the retailer's snapshot history is not read."""
    newer = f"SELECT o.offer_id FROM {OFFERS.name} AS o WHERE o.retailer_id = ? AND NOT {listing.current()}"
    ranked = (
        f"SELECT s.*, row_number() OVER (PARTITION BY s.offer_id ORDER BY s.snapshot_date DESC) AS newest "
        f"FROM {OFFER_SNAPSHOTS.name} AS s WHERE s.retailer_id = ? AND s.snapshot_date <= {listing.day_sql} "
        f"AND s.offer_id IN ({newer})"
    )
    return f"(SELECT * FROM ({ranked}) AS ranked WHERE newest = 1)", [retailer_id, retailer_id]
