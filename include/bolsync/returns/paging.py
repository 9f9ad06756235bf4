"""Reading one of bol's return lists page by page: the page guards, the end of a list, and the two ways a list is
read (see ``extract`` for why these rules miss no state change).

A list is one ``fulfilment-method`` (FBR or FBB) and one ``handled`` value (both passed explicitly: the spec
gives them no default), 50 returns a page. A page of fewer than 50 returns is the last one (bol fills every page
but the last; the answer past the end is ``{}``).

- **Unhandled lists** (oldest registration first) are read to their end. A return handled while the list is
  paged leaves it, and every later return moves up one place: the one that moves from the next page onto a page
  already read is skipped. A skipped return the warehouse knows as open is re-read by id (it looks like one that
  left the list); one it does not know yet is the danger, and it can only be a recent one (see ``extract``). So
  wherever a page boundary can hide a recent return, the page before it is read again once the page after it was
  read: when it still lists the same returns in the same order, nothing moved across that boundary in between.
  Otherwise the list is read again from the first such page, up to :data:`MAX_PASSES` times; a list that never
  holds still is reported not consistent.
- **Handled lists** (newest registration first) are read until their end, or until a page lists a return
  registered before the stop bound and ``settled`` says nothing on it is new or changed. Returns handled while
  the list is paged are inserted at their registration's place: later returns move down (read twice, never
  skipped).

Guards on every pass (a cache or pagination fault must never end a list early or loop): a full page listing only
returns earlier pages of the pass listed, or more than :data:`MAX_STALE_PAGES` pages in a row without a new return,
is :class:`BolInconsistentResponse` (retriable).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bolsync.returns.entries import registered_at, return_id
from bolsync.returns.spec import LIST_ENDPOINT, PAGE_SIZE
from bolsync_provider.errors import BolInconsistentResponse
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

#: Reads of an unhandled list before it is reported as not holding still.
MAX_PASSES = 3
#: Pages in a row without a new return a pass may read (returns pushed down by insertions repeat a few).
MAX_STALE_PAGES = 2
LIST_PATH = "/retailer/returns"


@dataclass(frozen=True)
class ReturnList:
    """One of the four lists: a fulfilment method, handled or not."""

    method: str
    handled: bool

    def params(self, page: int) -> dict[str, Any]:
        return {"page": page, "handled": "true" if self.handled else "false", "fulfilment-method": self.method}

    def describe(self) -> str:
        return f"{self.method} {'handled' if self.handled else 'unhandled'}"


@dataclass(frozen=True)
class Page:
    """One page as bol answered it, and when the answer arrived (its returns' state is as of then)."""

    number: int
    returns: list[dict[str, Any]]
    received_at: datetime

    @property
    def ids(self) -> list[str]:
        return [return_id(entry) for entry in self.returns]

    @property
    def registrations(self) -> list[datetime | None]:
        return [registered_at(entry) for entry in self.returns]

    @property
    def full(self) -> bool:
        return len(self.returns) >= PAGE_SIZE

    def newest_registration(self) -> datetime | None:
        """The latest readable registration on the page (None: none readable)."""
        known = [moment for moment in self.registrations if moment is not None]
        return max(known) if known else None

    def oldest_registration(self) -> datetime | None:
        known = [moment for moment in self.registrations if moment is not None]
        return min(known) if known else None


PageFetch = Callable[[ReturnList, int], Page]


def hook_fetch(hook: BolRetailerHook, clock: Callable[[], datetime]) -> PageFetch:
    """The pages of ``GET /retailer/returns`` through ``hook``, stamped with ``clock`` when they arrive."""

    def fetch(listing: ReturnList, number: int) -> Page:
        returns = hook.get_list_page(LIST_PATH, endpoint=LIST_ENDPOINT, key="returns", params=listing.params(number))
        return Page(number, returns, clock())

    return fetch


@dataclass
class ListRead:
    """What reading one list did: every page answer (re-reads included, in the order read)."""

    listing: ReturnList
    pages: list[Page] = field(default_factory=list)
    #: The list was read to its last page.
    reached_end: bool = False
    #: The handled list was read down to its stop bound.
    stopped_at_bound: bool = False
    #: The unhandled list held still across every boundary that could hide a recent return.
    consistent: bool = True
    #: Pages read again to check a boundary, or in a pass after a check failed.
    rereads: int = 0
    #: Pages read by number where returns that left the unhandled list stand (``extract``).
    by_position: int = 0

    @property
    def calls(self) -> int:
        return len(self.pages)

    @property
    def complete(self) -> bool:
        """Read far enough for its rule (see the module docstring)."""
        return self.consistent and (self.reached_end or self.stopped_at_bound)

    def returns(self) -> Iterator[tuple[dict[str, Any], Page]]:
        """Every return listed, with its page (a return read twice comes twice)."""
        for page in self.pages:
            for entry in page.returns:
                yield entry, page

    def ids(self) -> set[str]:
        return {return_id(entry) for entry, _ in self.returns()}

    def describe(self) -> str:
        how = "to its end" if self.reached_end else "to the stop bound" if self.stopped_at_bound else "not to its end"
        text = f"{self.listing.describe()}: {self.calls} pages ({how}"
        if self.rereads:
            text += f", {self.rereads} re-read"
        if self.by_position:
            text += f", {self.by_position} read where returns that left the unhandled list stand"
        if not self.consistent:
            text += ", never held still"
        return text + ")"


def read_forward(
    fetch: PageFetch, listing: ReturnList, first: int, read: ListRead, stop: Callable[[Page], bool] | None = None
) -> list[Page]:
    """One pass from page ``first`` until the end of the list or ``stop(page)``; the pages it read (with
    returns), also added to ``read``. Raises BolInconsistentResponse on a page that repeats (see the module)."""
    seen: set[str] = set()
    stale = 0
    pages: list[Page] = []
    for number in itertools.count(first):
        page = fetch(listing, number)
        read.pages.append(page)
        if not page.returns:
            read.reached_end = True
            return pages
        new = set(page.ids) - seen
        where = f"{LIST_ENDPOINT} ({listing.describe()})"
        if not new and page.full:
            raise BolInconsistentResponse(
                f"{where}: page {number} is a full page of {len(page.returns)} returns that pages {first}-{number - 1} "
                f"listed already (a cache or pagination fault answering an earlier page); the returns of page {number} "
                "itself would be skipped, so the listing stops."
            )
        stale = 0 if new else stale + 1
        if stale > MAX_STALE_PAGES:
            raise BolInconsistentResponse(
                f"{where}: pages {number - stale + 1}-{number} listed only returns of earlier pages; the list does "
                "not end, so the listing stops."
            )
        seen |= new
        pages.append(page)
        if not page.full:
            read.reached_end = True
            return pages
        if stop is not None and stop(page):
            read.stopped_at_bound = True
            return pages
    raise AssertionError("unreachable")  # pragma: no cover


def read_unhandled(fetch: PageFetch, listing: ReturnList, recent: Callable[[Page], bool]) -> ListRead:
    """Read an unhandled list to its end, checking every boundary before a page for which ``recent`` holds (a page
    that may hold returns the warehouse does not know yet) as the module docstring says."""
    read = ListRead(listing)
    pages = read_forward(fetch, listing, 1, read)
    for _ in range(MAX_PASSES):
        risky = [number for number in range(2, len(pages) + 1) if recent(pages[number - 1])]
        if not risky:
            return read
        moved = False
        for number in reversed(risky):
            again = fetch(listing, number - 1)
            read.pages.append(again)
            read.rereads += 1
            if again.ids != pages[number - 2].ids:
                moved = True
                break
        if not moved:
            return read
        first = risky[0] - 1
        before = read.calls
        pages = pages[: first - 1] + read_forward(fetch, listing, first, read)
        read.rereads += read.calls - before
    read.consistent = False
    return read


def read_handled(
    fetch: PageFetch, listing: ReturnList, bound: datetime | None, settled: Callable[[Page], bool]
) -> ListRead:
    """Read a handled list to its end (``bound`` None), or until a page lists a return registered before
    ``bound`` and ``settled(page)`` holds."""
    read = ListRead(listing)

    def stop(page: Page) -> bool:
        oldest = page.oldest_registration()
        return bound is not None and oldest is not None and oldest < bound and settled(page)

    read_forward(fetch, listing, 1, read, stop)
    return read
