"""The evidence a full offer list gives before it flags offers deleted (the rule itself: ``runs.evidence``; the
counting: ``runs.full_list``).

Counted over ``bol.offers`` as it stood when the list was taken (``offers.listing``): a replay of an old list is
judged like the original run judged it, and offers seen after the list was taken never count as missing.
"""

from __future__ import annotations

from typing import Any

from bolsync.offers.listing import OfferList
from bolsync.offers.spec import OFFERS
from bolsync.runs import full_list
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence
from bolsync.runs.full_list import StoredRecords

#: The stream name offer holds are recorded under (``bol.deletion_holds``).
STREAM = "offers"


def stored_offers(listing: OfferList) -> StoredRecords:
    """``bol.offers`` placed relative to ``listing``."""
    return StoredRecords(OFFERS.name, "offer_id", listing.live(), listing.known(), listing.seen_after())


def live_where(listing: OfferList) -> str:
    """The retailer's offers (``o``, first parameter: retailer id) live and known when the list was taken."""
    return stored_offers(listing).live_where()


def missing_where(listing: OfferList, incoming: str, held: str | None = None) -> str:
    """The offers a full list would flag deleted: live then, not named by ``incoming`` (or ``held``), not seen
    since."""
    return stored_offers(listing).missing_where(incoming, held)


def named(incoming: str, held: str | None = None) -> str:
    """Offer ``o`` is in the staged list ``incoming``, or among the staged keys ``held`` (listed, but held in the
    quarantine)."""
    return full_list.named("offer_id", incoming, held)


def count_live(conn: Any, retailer_id: str, listing: OfferList) -> int:
    """The offers live when the list was taken (before the list is loaded)."""
    return stored_offers(listing).count_live(conn, retailer_id)


def count_named(conn: Any, retailer_id: str, listing: OfferList, incoming: str, held: str | None = None) -> int:
    """How many of those ``incoming`` (or ``held``) names (before it is loaded)."""
    return stored_offers(listing).count_named(conn, retailer_id, incoming, held)


def count_missing(conn: Any, retailer_id: str, listing: OfferList, incoming: str, held: str | None = None) -> int:
    return stored_offers(listing).count_missing(conn, retailer_id, incoming, held)


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
