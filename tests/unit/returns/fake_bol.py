"""A fake of bol's return lists and details for the extract's tests: sorted as the spec says, 50 a page, with
changes that happen while a list is paged (after a given number of calls)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bolsync.returns.entries import is_handled, registered_at
from bolsync.returns.paging import Page, ReturnList
from bolsync.returns.spec import PAGE_SIZE
from bolsync_provider.errors import BolNotFound
from tests.unit.returns.data import NOW, entry, item, result


@dataclass
class FakeBol:
    """Returns by id; ``events``: call number -> a change applied right after that call."""

    returns: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[int, Callable[[FakeBol], None]] = field(default_factory=dict)
    list_calls: list[tuple[str, int]] = field(default_factory=list)
    detail_calls: list[str] = field(default_factory=list)
    bol_conn_id: str = "bol_fake"
    now: datetime = NOW

    def add(self, return_id: str, registered: datetime, method: str = "FBR", handled: bool = False) -> None:
        items = [item(f"{return_id}-1", results=[result(1, at=registered + timedelta(hours=1))] if handled else [],
                      detail=True)]  # fmt: skip
        self.returns[return_id] = entry(return_id, registered, method, items)

    def handle(self, return_id: str) -> None:
        for one in self.returns[return_id]["returnItems"]:
            one["handled"] = True
            one["processingResults"].append(result(1, at=self.now))

    def _tick(self) -> None:
        calls = len(self.list_calls) + len(self.detail_calls)
        if calls in self.events:
            self.events.pop(calls)(self)

    def listed(self, listing: ReturnList) -> list[dict[str, Any]]:
        chosen = [r for r in self.returns.values()
                  if r["fulfilmentMethod"] == listing.method and is_handled(r) == listing.handled]  # fmt: skip
        chosen.sort(key=lambda r: (registered_at(r), r["returnId"]), reverse=listing.handled)
        return chosen

    def fetch(self, listing: ReturnList, number: int) -> Page:
        self.list_calls.append((listing.describe(), number))
        chosen = self.listed(listing)[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        page = Page(number, [_reduced(r) for r in chosen], self.now)
        self._tick()
        return page

    def get_json(self, path: str, *, endpoint: str, **_: Any) -> Any:
        return_id = path.rsplit("/", 1)[-1]
        self.detail_calls.append(return_id)
        self._tick()
        if return_id not in self.returns:
            raise BolNotFound(f"{endpoint}: 404")
        return copy.deepcopy(self.returns[return_id])


def _reduced(full: dict[str, Any]) -> dict[str, Any]:
    """A ReducedReturn: no title, transport or customer details."""
    reduced = copy.deepcopy(full)
    for one in reduced["returnItems"]:
        for key in ("title", "trackAndTrace", "transporterName", "customerDetails"):
            one.pop(key, None)
    return reduced
