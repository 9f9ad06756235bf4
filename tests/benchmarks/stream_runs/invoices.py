"""Invoices in the all-streams benchmark: the invoices DAG on demand for the 31 days before today, twice (the second
run finds every invoice held; ``tests.benchmarks.streams.invoices`` counts the fewest and the naive calls)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bolsync.runs.windows import AMSTERDAM
from tests.benchmarks.stream_runs import Account, Figures
from tests.benchmarks.streams import invoices as counts

DAG = "bol_invoices"
DAYS = 31


def period(now: datetime) -> tuple[date, date]:
    last = now.astimezone(AMSTERDAM).date() - timedelta(days=1)
    return last - timedelta(days=DAYS - 1), last


def run(phase: int, now: datetime) -> tuple[datetime, dict[str, Any]]:
    first, last = period(now)
    return now + timedelta(minutes=phase), {"period_start": first.isoformat(), "period_end": last.isoformat()}


def snapshot(account: Account) -> dict[str, Any]:
    held = account.keys("SELECT invoice_id FROM bol.invoices WHERE retailer_id = ?")
    return {"invoices": account.truth("invoices"), "held": held}


def change(account: Account) -> None:
    """Nothing: an issued invoice does not change."""


def figures(account: Account, phase: int, now: datetime, before: Any, after: Any) -> Figures:
    first, last = period(now)
    fewest = counts.fewest_calls(after["invoices"], first, last, known=before["held"])
    naive = counts.naive_calls(after["invoices"], first, last)
    return Figures(fewest=sum(fewest.values()), naive=sum(naive.values()))
