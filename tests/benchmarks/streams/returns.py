"""The returns stream's side of the six-stream benchmark: the fewest calls any client could make to sync a run's
changes, and a naive full re-read, both from the emulator's ground truth before and after the changes.

How the fewest is counted (a lower bound no client can beat, not a client one could build): it is given an oracle
that names the returns new or changed since the warehouse's state (``before``), so it reads nothing that did not
change. Each changed return must still be read once, from a list page holding it or by id, and a page holds up to
50: per list (fulfilment method x handled), every page of ``after`` that holds a changed return costs one call
(never more than reading its changed returns by id, which cost one each), read by its page number. A return whose
detail fields the data includes (title, transporter, track and trace, customer details: ``detailed``, the returns a
run read by id because it met them new) costs one detail call, which also gives its state, so its page is not
needed for it. Lists are in bol's order (unhandled oldest registration first, handled newest first) over
``after``; a list where nothing changed costs nothing.

The naive full re-read is what the sync tools that re-read snapshots do, for the same data: every one of the four
lists to its end (a page per 50 returns, and the answer past the last page, ``{}``, when a list ends on a full page
or is empty), and the detail of every return listed.

The product (``bolsync.returns.extract``) reads each unhandled list completely (it cannot know which open return
changed), the handled list down to the last scan's bound, and by id only the returns the lists cannot tell it
about; its calls are counted at the emulator (``/_emulator/stats``), per endpoint label.

    before = Truth.fetch(url, client_id); ...changes..., run...; after = Truth.fetch(url, client_id)
    fewest_calls(before, after, detailed=new_returns_read_by_id); naive_calls(after)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from bolsync.returns.spec import DETAIL_ENDPOINT, FULFILMENT_METHODS, LIST_ENDPOINT, PAGE_SIZE


@dataclass(frozen=True)
class Truth:
    """The emulator's returns of one account at one moment: ``returns`` and ``return-processing-results`` rows."""

    returns: tuple[Mapping[str, Any], ...]
    results: tuple[Mapping[str, Any], ...]

    @classmethod
    def fetch(cls, url: str, client_id: str) -> Truth:
        def rows(table: str) -> tuple[Mapping[str, Any], ...]:
            response = requests.get(f"{url}/_emulator/accounts/{client_id}/{table}", timeout=30)
            response.raise_for_status()
            return tuple(response.json())

        return cls(rows("returns"), rows("return-processing-results"))

    def states(self) -> dict[str, tuple[Any, ...]]:
        """Return id -> what a sync stores of it that can change: handled, and its processing results."""
        results: dict[str, list[tuple[Any, ...]]] = {}
        for row in self.results:
            results.setdefault(str(row["return_id"]), []).append(
                (row["rma_id"], row["quantity"], row["processing_result"], row["handling_result"], row["processed_at"])
            )
        return {
            str(r["return_id"]): (bool(r["handled"]), tuple(sorted(results.get(str(r["return_id"]), []))))
            for r in self.returns
        }

    def listed(self, method: str, handled: bool) -> list[str]:
        """The return ids of one list, in bol's order."""
        chosen = [r for r in self.returns if r["fulfilment_method"] == method and bool(r["handled"]) is handled]
        chosen.sort(key=lambda r: (datetime.fromisoformat(str(r["registered_at"])), str(r["return_id"])),
                    reverse=handled)  # fmt: skip
        return [str(r["return_id"]) for r in chosen]


def changed(before: Truth | None, after: Truth) -> set[str]:
    """The returns of ``after`` that are new or changed since ``before`` (None: an empty warehouse)."""
    old = before.states() if before is not None else {}
    return {key for key, state in after.states().items() if old.get(key) != state}


def pages_holding(ids: list[str], wanted: Collection[str]) -> int:
    """How many pages of a list (``ids`` in its order) hold at least one of ``wanted``."""
    return len({position // PAGE_SIZE for position, key in enumerate(ids) if key in wanted})


def list_pages(count: int) -> int:
    """The pages a reader that does not know the list's length reads to its end: a short last page, or ``{}``."""
    return count // PAGE_SIZE + 1


def fewest_calls(before: Truth | None, after: Truth, detailed: Iterable[str] = ()) -> dict[str, int]:
    """The fewest calls per endpoint label that bring a warehouse holding ``before`` to ``after`` (see the module
    docstring); ``detailed``: the returns whose detail the data includes and that were new to the warehouse."""
    by_detail = set(detailed)
    wanted = changed(before, after) - by_detail
    pages = sum(
        pages_holding(after.listed(method, handled), wanted)
        for method in FULFILMENT_METHODS
        for handled in (False, True)
    )
    return {LIST_ENDPOINT: pages, DETAIL_ENDPOINT: len(by_detail)}


def naive_calls(after: Truth) -> dict[str, int]:
    """A full re-read of the same data in one run: the four lists to their end and every return's detail."""
    pages = sum(
        list_pages(len(after.listed(method, handled))) for method in FULFILMENT_METHODS for handled in (False, True)
    )
    return {LIST_ENDPOINT: pages, DETAIL_ENDPOINT: len(after.returns)}


def run_calls(stats_before: Mapping[str, Any], stats_after: Mapping[str, Any]) -> dict[str, int]:
    """The successful returns calls between two ``/_emulator/stats`` snapshots, per endpoint label."""
    labels = {LIST_ENDPOINT: "GET /retailer/returns", DETAIL_ENDPOINT: "GET /retailer/returns/{return-id}"}

    def ok(stats: Mapping[str, Any], endpoint: str) -> int:
        return int((stats.get("requests", {}).get(endpoint) or {}).get("200", 0))

    return {label: ok(stats_after, path) - ok(stats_before, path) for label, path in labels.items()}
