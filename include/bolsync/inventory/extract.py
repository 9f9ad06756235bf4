"""What an inventory run reads from bol, and the stop rules of its pages (no warehouse writes here).

``GET /retailer/inventory`` lists the FBB stock, 50 EANs a page, ``{}`` past the last page. Its filters
(``quantity``, ``stock``, ``state``, ``query``) all narrow the list and none has a default, so a full list
passes none of them: without ``state`` both REGULAR and GRADED stock are listed, without ``stock`` and
``quantity`` every stock level (an EAN with no unit left included, for as long as bol lists it).

A page that cannot be read fails the run (the provider's transport retries it first), and a page must never
look like the end of the list unless it is one: the list is read up to the empty page that ends it, a page of
fewer than 50 entries followed by more entries is a page cut short, and a page that lists no EAN the earlier
pages did not (a cache or paging fault answering an earlier page) would hide the EANs of the page it stands
for; both raise ``BolInconsistentResponse`` (retried by the task). Page numbers shift when EANs come and go
while the list is read, so an EAN can be skipped: the EANs the warehouse holds as listed that the list does
not name are looked up one by one (``query``: the EAN), as long as there are few (:data:`MAX_LOOKUPS`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bolsync.inventory.spec import INVENTORY_ENDPOINT
from bolsync.runs.quarantine import record_key
from bolsync.runs.staging import NdjsonWriter
from bolsync.runs.windows import AMSTERDAM
from bolsync_provider.errors import BolInconsistentResponse
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)

PATH = "/retailer/inventory"
LIST_FIELD = "inventory"
PAGE_SIZE = INVENTORY_ENDPOINT.page_size or 50
#: The staged list (one ``Inventory`` entry per line, as bol sent it).
LIST_FILE = "inventory.ndjson"
#: The EANs no longer listed are looked up one by one only up to this many (a minute of bol's 20 calls a
#: minute); more than that is a list cut short or a real clear-out, which the evidence rule weighs.
MAX_LOOKUPS = 20
#: bol keeps no stock history: a run whose window ended longer ago than this is a backfill or a rerun of an old
#: run, and reads nothing (a current run, even a late one or a manual one, takes today's snapshot).
HISTORY_LIMIT = timedelta(days=1)


def snapshot_day(now: datetime) -> date:
    """The Dutch day a snapshot taken at ``now`` is dated with: the day it was taken."""
    return now.astimezone(AMSTERDAM).date()


def past_run_message(window_end: datetime, now: datetime) -> str | None:
    """Why a run changes nothing (a backfill or a rerun of a run whose window ended more than
    :data:`HISTORY_LIMIT` ago), or None for a current run."""
    if now - window_end <= HISTORY_LIMIT:
        return None
    return (
        f"bol keeps no stock history: the API only lists the FBB stock as it is now, so this run for the window "
        f"ending {window_end.isoformat()} (more than {HISTORY_LIMIT} ago) cannot take a snapshot of its day and "
        "changes nothing. Stock history is what the nightly runs store in bol.inventory_snapshots; a day none of "
        "them captured is lost."
    )


@dataclass
class InventoryExtract:
    """What one read of the list did."""

    pages: int = 0
    entries: int = 0
    #: EANs the warehouse holds as listed that the list did not name, looked up one by one.
    looked_up: list[str] = field(default_factory=list)
    #: Those among them bol still lists (the list skipped them).
    found: list[str] = field(default_factory=list)
    #: How many EANs the list no longer names, when too many to look up.
    not_looked_up: int = 0


def list_pages(hook: BolRetailerHook, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
    """The non-empty pages of the list (with ``params``, a filtered one), under the stop rules of the module
    docstring."""
    seen: set[str] = set()
    short: tuple[int, int] | None = None
    for page in itertools.count(1):
        query = {**(params or {}), "page": page}
        entries = hook.get_list_page(PATH, endpoint=INVENTORY_ENDPOINT.label, key=LIST_FIELD, params=query)
        if not entries:
            return
        where = f"{INVENTORY_ENDPOINT.label} ({describe(params)})"
        if short is not None:
            raise BolInconsistentResponse(
                f"{where}: page {short[0]} listed {short[1]} EANs, fewer than the {PAGE_SIZE} of a full page, as only "
                f"the last page does, but page {page} lists {len(entries)} more: a page was cut short (or bol's "
                "page size changed). Its missing EANs would look gone, so the list is not used; the task retries."
            )
        keys = [record_key(entry.get("ean")) for entry in entries]
        new = {key for key in keys if key is not None} - seen
        if not new and None not in keys:
            raise BolInconsistentResponse(
                f"{where}: page {page} lists {len(entries)} EANs that pages 1-{page - 1} listed already (a cache or "
                f"paging fault answering an earlier page); the EANs of page {page} itself would be missed, so the "
                "list is not used; the task retries."
            )
        seen |= new
        if len(entries) < PAGE_SIZE:
            short = (page, len(entries))
        yield entries


def list_calls(eans: int) -> int:
    """The calls one read of a list of ``eans`` entries makes: its pages and the empty page that ends it."""
    return -(-eans // PAGE_SIZE) + 1


def describe(params: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items()) or "every EAN"


def stage_inventory(hook: BolRetailerHook, staging: Path, listed_before: Iterable[str]) -> InventoryExtract:
    """Stage the whole list into ``staging / LIST_FILE``, then look up the EANs of ``listed_before`` (those the
    warehouse holds as listed) that it does not name, when there are few."""
    result = InventoryExtract()
    named: set[str] = set()
    with NdjsonWriter(staging / LIST_FILE, append=False) as writer:
        for entries in list_pages(hook):
            result.pages += 1
            for entry in entries:
                writer.write(entry)
                result.entries += 1
                if (key := record_key(entry.get("ean"))) is not None:
                    named.add(key)
        missing = sorted(set(listed_before) - named)
        if len(missing) > MAX_LOOKUPS:
            result.not_looked_up = len(missing)
            missing = []
        for ean in missing:
            result.looked_up.append(ean)
            for entry in look_up(hook, ean):
                writer.write(entry)
                result.found.append(ean)
    if result.found:
        log.warning(
            "bol's inventory list skipped %d EANs it still lists (found one by one: %s); its pages shifted while "
            "they were read.",
            len(result.found),
            ", ".join(result.found[:20]),
        )
    return result


def look_up(hook: BolRetailerHook, ean: str) -> list[dict[str, Any]]:
    """The entry of ``ean`` if bol still lists it (its ``query`` filter matches EANs and titles; only the EAN's own
    entry counts), else nothing."""
    for entries in list_pages(hook, {"query": ean}):
        found = [entry for entry in entries if record_key(entry.get("ean")) == ean]
        if found:
            return found[-1:]
    return []
