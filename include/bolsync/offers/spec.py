"""The offers stream: the seller's offers as they are now (v10 export or v11 list), and a snapshot per day."""

from __future__ import annotations

from bolsync.streams.spec import NO_HISTORY, Endpoint, Replication, StreamSpec
from bolsync.warehouse.base import Table

STREAM = "offers"

OFFERS = Table("bol.offers", ("retailer_id", "offer_id"), version="mutation_date_time")
OFFER_SNAPSHOTS = Table("bol.offer_snapshots", ("retailer_id", "offer_id", "snapshot_date"))

SPEC = StreamSpec(
    name=STREAM,
    title="offers and their daily snapshots",
    replication=Replication.SNAPSHOT,
    tables=(OFFERS, OFFER_SNAPSHOTS),
    endpoints=(
        Endpoint("POST /retailer/offers/export"),
        Endpoint("GET /shared/process-status/{id}"),
        Endpoint("GET /retailer/offers/export/{id}"),
        Endpoint("GET /retailer/offers", page_size=100),
    ),
    history=NO_HISTORY,
    backfill_dag=None,
    dags=("bol_offers_daily",),
    covered="a complete list of the offers was taken that day, and the day's snapshot written",
)
