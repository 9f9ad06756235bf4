"""Shipments in the all-streams benchmark: the hourly DAG on an empty warehouse, then an hour later after items were
shipped.

bol lists shipments per fulfilment method, newest first, 50 a page, without a date filter; the list carries no
transport or quantities, so each new shipment costs its detail once. The fewest calls for the shipments a run
landed: per list, the pages down to the oldest of them (one page when it landed none: only the first page tells that
nothing is new), and one detail per landed shipment. Naive: every page of both lists to their end (the page past a
full last one, ``{}``, included) and every shipment's detail, whatever the warehouse holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.benchmarks.stream_runs import Account, Figures

DAG = "bol_shipments_hourly"
PAGE_SIZE = 50
METHODS = ("FBR", "FBB")
#: Between the runs: order items shipped (a shipment each).
SHIPPED = 3


def run(phase: int, now: datetime) -> tuple[datetime, dict[str, Any]]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=phase - 1, minutes=5), {}


def snapshot(account: Account) -> dict[str, Any]:
    return {
        "truth": account.truth("shipments"),
        "held": account.keys("SELECT shipment_id FROM bol.shipments WHERE retailer_id = ?"),
    }


def change(account: Account) -> None:
    waiting = [
        item
        for item in account.truth("order-items")
        if int(item["quantity"]) > int(item["quantity_shipped"]) + int(item["quantity_cancelled"])
    ]
    for item in waiting[:SHIPPED]:
        account.act("ship_item", order_item_id=item["order_item_id"], quantity=1)


def listed(truth: list[dict[str, Any]], method: str) -> list[str]:
    """The shipment ids of one list, in bol's order (newest first)."""
    rows = [r for r in truth if r["fulfilment_method"] == method]
    rows.sort(key=lambda r: (datetime.fromisoformat(str(r["shipped_at"])), str(r["shipment_id"])), reverse=True)
    return [str(r["shipment_id"]) for r in rows]


def figures(account: Account, phase: int, now: datetime, before: Any, after: Any) -> Figures:
    landed = after["held"] - before["held"]
    fewest = len(landed)
    naive = len(after["truth"])
    for method in METHODS:
        ids = listed(after["truth"], method)
        positions = [n for n, key in enumerate(ids) if key in landed]
        fewest += max(positions) // PAGE_SIZE + 1 if positions else 1
        naive += len(ids) // PAGE_SIZE + 1
    return Figures(fewest=fewest, naive=naive)
