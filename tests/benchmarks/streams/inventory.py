"""The FBB inventory stream's calls for the benchmark: what a run makes, the fewest possible for the same data,
and a naive full re-read.

How the fewest possible is counted. bol serves the FBB stock as one list, ``GET /retailer/inventory``, 50 EANs a
page, with no change filter: the only way to learn today's stock of N EANs is to read every page that holds
them, ceil(N / 50) calls. A page of fewer than 50 entries is bol's last page, so that is also the end of the
list; only when the last page is full (N a multiple of 50, or N = 0) does one more call, the empty page ``{}``,
tell that the list ends. That minimum trusts the page size completely.

What a run makes. bolsync always reads the empty page that ends the list (one call above the minimum when N is
not a multiple of 50): a page cut short, or a page size bol changed, must never look like the end of the list
(``inventory.extract``). When the list no longer names some EANs the warehouse holds as listed, each of them
(at most 20) is looked up by EAN (``query``), one call each, to catch an EAN skipped because the pages shifted
while they were read; a night on which no EAN leaves the list makes no lookup.

Naive. Every inventory run is a full re-read already (bol keeps no history and offers no incremental read), so
a naive run reads the same pages; the naive figure differs from a run's only by the lookups. Reading REGULAR
and GRADED stock separately (``state``), as a filter-happy client might, would cost the pages of both lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bolsync.inventory.extract import PAGE_SIZE, list_calls

STREAM = "inventory"
ENDPOINT = "GET /retailer/inventory"


def fewest_calls(eans: int) -> int:
    """The fewest calls that read a list of ``eans`` EANs (see the module docstring)."""
    pages = -(-eans // PAGE_SIZE)
    return pages if eans % PAGE_SIZE else pages + 1


def naive_calls(eans: int) -> int:
    """A naive full re-read of the list: every page and the empty one that ends it."""
    return list_calls(eans)


def run_calls(eans: int, vanished: int = 0) -> int:
    """The calls of one bolsync run: the list read up to its empty page, and one lookup per EAN it no longer
    names when there are few (``vanished``; none when more than ``MAX_LOOKUPS``)."""
    from bolsync.inventory.extract import MAX_LOOKUPS

    return list_calls(eans) + (vanished if vanished <= MAX_LOOKUPS else 0)


def calls_for(truth: Sequence[Mapping[str, Any]], vanished: int = 0) -> dict[str, int]:
    """The three figures for an account whose emulator truth (``/_emulator/accounts/{client}/inventory``) is
    ``truth``: ``run``, ``fewest`` and ``naive`` calls of ``ENDPOINT``."""
    eans = len(truth)
    return {"run": run_calls(eans, vanished), "fewest": fewest_calls(eans), "naive": naive_calls(eans)}
