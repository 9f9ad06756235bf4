"""Returns in the all-streams benchmark: the hourly DAG on an empty warehouse, then an hour later after returns were
registered and handled (``tests.benchmarks.streams.returns`` counts the fewest and the naive calls; the returns whose
detail the data includes are those whose detail a run read, ``detail_read_at``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.benchmarks.stream_runs import Account, Figures
from tests.benchmarks.streams import returns as counts

DAG = "bol_returns_hourly"
#: Between the runs: returns registered for shipped items, and the oldest open ones handled.
REGISTERED = 3
HANDLED = 3
#: The returns whose detail a run read: the ones it met new (the data then includes their detail fields).
DETAILED = "SELECT DISTINCT return_id FROM bol.return_item_states WHERE retailer_id = ? AND detail_read_at IS NOT NULL"


def run(phase: int, now: datetime) -> tuple[datetime, dict[str, Any]]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=phase - 1, minutes=5), {}


def snapshot(account: Account) -> dict[str, Any]:
    return {
        "truth": counts.Truth.fetch(account.url, account.client_id),
        "held": account.keys("SELECT return_id FROM bol.returns WHERE retailer_id = ?"),
        "detailed": account.keys(DETAILED),
    }


def change(account: Account) -> None:
    account.act("register_return", count=REGISTERED)
    account.act("handle_return", count=HANDLED)


def figures(account: Account, phase: int, now: datetime, before: Any, after: Any) -> Figures:
    old: counts.Truth | None = before["truth"] if before["held"] else None
    fewest = counts.fewest_calls(old, after["truth"], detailed=after["detailed"] - before["detailed"])
    return Figures(fewest=sum(fewest.values()), naive=sum(counts.naive_calls(after["truth"]).values()))
