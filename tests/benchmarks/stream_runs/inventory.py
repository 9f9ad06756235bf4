"""FBB inventory in the all-streams benchmark: the nightly DAG, twice, stock changed between
(``tests.benchmarks.streams.inventory`` counts the fewest and the naive calls)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.benchmarks.stream_runs import Account, Figures
from tests.benchmarks.streams import inventory as counts

DAG = "bol_inventory_daily"
CHANGED = 5


def run(phase: int, now: datetime) -> tuple[datetime, dict[str, Any]]:
    return now + timedelta(minutes=phase), {}


def snapshot(account: Account) -> list[dict[str, Any]]:
    return account.truth("inventory")


def change(account: Account) -> None:
    for row in account.truth("inventory")[:CHANGED]:
        account.act("change_stock", ean=row["ean"], regular_stock=int(row["regular_stock"]) + 1)


def figures(account: Account, phase: int, now: datetime, before: Any, after: Any) -> Figures:
    calls = counts.calls_for(after)
    return Figures(fewest=calls["fewest"], naive=calls["naive"])
