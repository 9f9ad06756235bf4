"""The shipments stream's side of the six-stream benchmark: the fewest calls any client could make to sync a run's
changes, and a naive full re-read, both from the emulator's ground truth before and after the changes.

How the fewest is counted (a lower bound no client can beat, not a client one could build): it is given an oracle
that names the shipments new since the warehouse's state (``before``) and those whose transport events changed.
The list carries no transporter, track and trace or quantities, so each of them costs one detail call, which also
carries everything the list shows: with the oracle no list page is needed. A run that does not keep transport
events current (an hourly run) is compared with ``events=False``: only new shipments count.

The naive full re-read is what the sync tools that re-read snapshots do, for the same data: both lists (FBR and
FBB) to their end (a page per 50 shipments, and the answer past the last page when a list ends on a full page or
is empty) and the detail of every shipment listed.

The product (``bolsync.shipments.extract``) reads each list from its first page down to its stop bound and the
detail of each shipment new to the warehouse; the daily run re-reads the detail of journeys under way. Its calls
are counted at the emulator (``/_emulator/stats``), per endpoint label.

    before = Truth.fetch(url, client_id); ...changes..., run...; after = Truth.fetch(url, client_id)
    fewest_calls(before, after); naive_calls(after)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from dateutil.relativedelta import relativedelta

from bolsync.runs.windows import AMSTERDAM
from bolsync.shipments.spec import DETAIL_ENDPOINT, FULFILMENT_METHODS, LIST_ENDPOINT, PAGE_SIZE


@dataclass(frozen=True)
class Truth:
    """The emulator's shipments of one account at one moment (``shipments`` rows) that bol lists (3 months)."""

    shipments: tuple[Mapping[str, Any], ...]

    @classmethod
    def fetch(cls, url: str, client_id: str, now: datetime | None = None) -> Truth:
        response = requests.get(f"{url}/_emulator/accounts/{client_id}/shipments", timeout=30)
        response.raise_for_status()
        return cls.of(response.json(), now)

    @classmethod
    def of(cls, rows: list[Mapping[str, Any]], now: datetime | None = None) -> Truth:
        oldest = (now or datetime.now(UTC)).astimezone(AMSTERDAM).date() - relativedelta(months=3)
        listed = [
            r for r in rows if datetime.fromisoformat(str(r["shipped_at"])).astimezone(AMSTERDAM).date() >= oldest
        ]
        return cls(tuple(listed))

    def events(self) -> dict[str, int]:
        """Shipment id -> how many transport events it has."""
        return {str(r["shipment_id"]): len(r["transport_events"]) for r in self.shipments}

    def count(self, method: str) -> int:
        return sum(1 for r in self.shipments if r["fulfilment_method"] == method)


def list_pages(count: int) -> int:
    """The pages a reader that does not know the list's length reads to its end: a short last page, or ``{}``."""
    return count // PAGE_SIZE + 1


def fewest_calls(before: Truth | None, after: Truth, *, events: bool = True) -> dict[str, int]:
    """The fewest calls per endpoint label that bring a warehouse holding ``before`` to ``after`` (see the module
    docstring); ``events``: transport events kept current too."""
    old = before.events() if before is not None else {}
    new = {key for key in after.events() if key not in old}
    moved = {key for key, count in after.events().items() if key in old and old[key] != count} if events else set()
    return {LIST_ENDPOINT: 0, DETAIL_ENDPOINT: len(new) + len(moved)}


def naive_calls(after: Truth) -> dict[str, int]:
    """A full re-read of the same data in one run: both lists to their end and every shipment's detail."""
    pages = sum(list_pages(after.count(method)) for method in FULFILMENT_METHODS)
    return {LIST_ENDPOINT: pages, DETAIL_ENDPOINT: len(after.shipments)}


def run_calls(stats_before: Mapping[str, Any], stats_after: Mapping[str, Any]) -> dict[str, int]:
    """The successful shipments calls between two ``/_emulator/stats`` snapshots, per endpoint label."""
    labels = {LIST_ENDPOINT: "GET /retailer/shipments", DETAIL_ENDPOINT: "GET /retailer/shipments/{shipment-id}"}

    def ok(stats: Mapping[str, Any], endpoint: str) -> int:
        return int((stats.get("requests", {}).get(endpoint) or {}).get("200", 0))

    return {label: ok(stats_after, path) - ok(stats_before, path) for label, path in labels.items()}
