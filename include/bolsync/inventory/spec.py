"""The FBB inventory stream: the stock bol holds per EAN as it is now, and one snapshot of it per Dutch day."""

from __future__ import annotations

from bolsync.streams.spec import NO_HISTORY, Endpoint, Replication, StreamSpec
from bolsync.warehouse.base import Table

STREAM = "inventory"

INVENTORY = Table("bol.inventory", ("retailer_id", "ean"), version="last_seen_on")
INVENTORY_SNAPSHOTS = Table("bol.inventory_snapshots", ("retailer_id", "ean", "snapshot_date"))
#: bol's list of FBB stock, 50 EANs a page.
INVENTORY_ENDPOINT = Endpoint("GET /retailer/inventory", page_size=50)

SPEC = StreamSpec(
    name=STREAM,
    title="FBB stock per EAN",
    replication=Replication.SNAPSHOT,
    tables=(INVENTORY, INVENTORY_SNAPSHOTS),
    endpoints=(INVENTORY_ENDPOINT,),
    history=NO_HISTORY,
    backfill_dag=None,
    dags=("bol_inventory_daily",),
    covered="a complete list of the FBB stock was read that Dutch day and the day's snapshot written",
    module="bolsync.inventory.stream",
)
