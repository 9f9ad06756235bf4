"""Offers in the all-streams benchmark: the nightly offer export, twice.

bol serves the offers as one export: a request for it, polls of its process status until it is done (the emulator
answers ``export_pending_polls`` times PENDING, then SUCCESS) and the file's download. That is the fewest possible
for a complete offer list, and it is also the naive full re-read (an export is one): the figures show what a run
adds to it (polls while the export is not ready yet, and lookups of offers that left the list).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.benchmarks.stream_runs import Account, Figures

DAG = "bol_offers_daily"


def run(phase: int, now: datetime) -> tuple[datetime, dict[str, Any]]:
    return now + timedelta(minutes=phase), {}


def snapshot(account: Account) -> list[dict[str, Any]]:
    return account.truth("offers")


def change(account: Account) -> None:
    """Nothing: a changed offer costs the export nothing more."""


def figures(account: Account, phase: int, now: datetime, before: Any, after: Any) -> Figures:
    export = 1 + account.export_pending_polls + 1 + 1
    return Figures(fewest=export, naive=export)
