"""The evidence a full offer list gives before it flags offers deleted (the rule itself: ``runs.evidence``).

Counted over ``bol.offers`` as it stood when the list was taken (``offers.listing``): a replay of an old list is
judged like the original run judged it, and offers seen after the list was taken never count as missing.
"""

from __future__ import annotations

from typing import Any

from bolsync.offers.listing import OfferList
from bolsync.offers.spec import OFFERS
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence

#: The stream name offer holds are recorded under (``bol.deletion_holds``).
STREAM = "offers"


def live_where(listing: OfferList) -> str:
    """The retailer's offers (``o``, first parameter: retailer id) live and known when the list was taken."""
    return f"o.retailer_id = ? AND {listing.live()} AND {listing.known()}"


def missing_where(listing: OfferList, incoming: str, held: str | None = None) -> str:
    """The offers a full list would flag deleted: live then, not named by ``incoming`` (or ``held``), not seen
    since."""
    return f"{live_where(listing)} AND NOT {listing.seen_after()} AND NOT {named(incoming, held)}"


def named(incoming: str, held: str | None = None) -> str:
    """Offer ``o`` is in the staged list ``incoming``, or among the staged keys ``held`` (listed, but held in the
    quarantine)."""
    listed = f"EXISTS (SELECT 1 FROM {incoming} AS i WHERE i.offer_id = o.offer_id)"
    if held is None:
        return listed
    return f"({listed} OR EXISTS (SELECT 1 FROM {held} AS h WHERE h.offer_id = o.offer_id))"


def count_live(conn: Any, retailer_id: str, listing: OfferList) -> int:
    """The offers live when the list was taken (before the list is loaded)."""
    return _count(conn, f"SELECT count(*) FROM {OFFERS.name} AS o WHERE {live_where(listing)}", retailer_id)


def count_named(conn: Any, retailer_id: str, listing: OfferList, incoming: str, held: str | None = None) -> int:
    """How many of those ``incoming`` (or ``held``) names (before it is loaded)."""
    return _count(
        conn,
        f"SELECT count(*) FROM {OFFERS.name} AS o WHERE {live_where(listing)} AND {named(incoming, held)}",
        retailer_id,
    )


def count_missing(conn: Any, retailer_id: str, listing: OfferList, incoming: str, held: str | None = None) -> int:
    return _count(
        conn, f"SELECT count(*) FROM {OFFERS.name} AS o WHERE {missing_where(listing, incoming, held)}", retailer_id
    )


def deletion_check(
    listing: OfferList,
    *,
    listed: int,
    evidence: FullListEvidence,
    threshold: DeletionThreshold | None,
    confirmed: bool,
) -> DeletionCheck:
    return DeletionCheck(
        stream=STREAM,
        what=listing.name,
        records="offers",
        table=OFFERS.name,
        listed=listed,
        evidence=evidence,
        threshold=threshold or DeletionThreshold(),
        confirmed=confirmed,
    )


def _count(conn: Any, sql: str, retailer_id: str) -> int:
    rows = conn.execute(sql, [retailer_id]).fetchall()
    return int(rows[0][0]) if rows else 0
