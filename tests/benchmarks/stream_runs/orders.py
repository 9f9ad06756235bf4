"""Orders in the all-streams benchmark: the daily DAG for yesterday, then for the day before (a backfill's next day,
whose orders partly changed on both days and are already held).

The fewest calls for a day's data: its ``latest-change-date`` list, ``ceil(n / 50)`` pages for the ``n`` orders
with an item whose latest change falls on that Dutch day (one more, the empty page, only when the last page is full
or the list is empty: nothing else tells the end), and one detail per listed order the warehouse does not hold yet
(a held order's changes all come with the list). Naive: the same pages and every listed order's detail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bolsync.runs.windows import AMSTERDAM
from bolsync_provider.hooks.bol_retailer import ORDER_PAGE_SIZE
from tests.benchmarks.stream_runs import Account, Figures

DAG = "bol_orders_daily"


def day_of(phase: int, now: datetime) -> date:
    """The Dutch day the run of ``phase`` syncs: yesterday, then the day before."""
    return now.astimezone(AMSTERDAM).date() - timedelta(days=phase)


def run(phase: int, now: datetime) -> tuple[datetime, dict[str, Any]]:
    midnight = datetime.combine(day_of(phase, now) + timedelta(days=1), datetime.min.time(), AMSTERDAM)
    return midnight + timedelta(hours=12), {}


def snapshot(account: Account) -> dict[str, Any]:
    return {
        "items": account.truth("order-items"),
        "held": account.keys("SELECT DISTINCT order_id FROM bol.orders WHERE retailer_id = ?"),
    }


def change(account: Account) -> None:
    """Nothing: the second run reads an earlier day."""


def pages(count: int) -> int:
    """The fewest pages that read a list of ``count`` entries to its end."""
    return -(-count // ORDER_PAGE_SIZE) if count % ORDER_PAGE_SIZE else count // ORDER_PAGE_SIZE + 1


def figures(account: Account, phase: int, now: datetime, before: dict[str, Any], after: dict[str, Any]) -> Figures:
    day = day_of(phase, now)
    listed = {
        str(item["order_id"])
        for item in after["items"]
        if datetime.fromisoformat(str(item["latest_changed_at"])).astimezone(AMSTERDAM).date() == day
    }
    new = listed - before["held"]
    return Figures(fewest=pages(len(listed)) + len(new), naive=pages(len(listed)) + len(listed))
