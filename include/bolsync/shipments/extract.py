"""Extract: the two shipment lists down to their stop bound and the details they call for, staged to disk.

bol's shipment lists (``GET /retailer/shipments``, one per fulfilment method) have no date filter: each is a
snapshot of the last 3 months, **newest shipment first**, 50 a page, without transporter, track and trace or
quantities. A run reads, per fulfilment method, pages from the first until a page holds a shipment shipped before
the **stop bound**, or the list ends; then, by id, the detail (``GET /retailer/shipments/{id}``) of every listed
shipment whose detail the warehouse does not hold yet: once, never again for the list's sake. With ``refresh``
(the daily run) it also re-reads the detail of recent shipments whose journey has not ended (``refresh_since``),
for their transport events, at most once per :data:`REFRESH_AFTER`. A stored shipment whose detail answered 404
is asked for again by every run that reads the lists; a retry reuses the details an earlier attempt of the same
run staged.

The stop rule, and why it misses nothing. Assumptions: (A1) bol lists a shipment from its ``shipmentDateTime`` on,
up to the listing margin (a setting) late, until it is 3 months old; (A2) ``shipmentDateTime`` never changes and
orders the list (newest first); (A3) shipments leave the list only at its old end (by age). Shipments bol adds
while a run pages go to the top and only push the others down (a shipment read twice, none skipped); by (A3)
nothing above the page being read moves up. ``bol.shipment_scans`` keeps, per fulfilment method, the span
[covered_from, covered_to) of shipment times complete scans have read: a complete scan started at S reading down
to bound B saw every shipment shipped in [B, S - margin) (A1, A2). The bound is the lowest of the window's start
minus the margin, the run's oldest day (``oldest_day``, a backfill's first day) and the stored ``covered_to``, so
the new span overlaps the stored one and their union stays one span: an hourly run reads down to the last
complete scan's start minus the margin, and after an outage it reads across the whole gap. A window the span
holds already ([covered_from, covered_to) contains it, both methods) is not read again: that is how every day of
a backfill after its first (which reads down to the oldest day in one pass) reads nothing.

Shipments are staged without personal data; for an opted-in account the shipment and billing details of the
order are staged apart (``personal``) for the personal store, else dropped here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

from bolsync.personal.records import personal_record
from bolsync.personal.staging import PERSONAL_FILE
from bolsync.runs.staging import NdjsonWriter, read_ndjson
from bolsync.runs.windows import AMSTERDAM, SyncWindow
from bolsync.shipments.entries import order_id, shipment_id, shipped_at, without_personal_data
from bolsync.shipments.spec import (
    DETAIL_ENDPOINT,
    FULFILMENT_METHODS,
    HISTORY,
    LIST_ENDPOINT,
    LIST_FIELD,
    LIST_PATH,
    PAGE_SIZE,
)
from bolsync_provider.errors import BolInconsistentResponse, BolNotFound, BolResponseError, BolWindowTooOld
from bolsync_provider.hooks.bol_retailer import BolRetailerHook, path_segment

#: Staged reads of one attempt (list entries and details, without personal data).
SHIPMENTS_FILE = "shipments.ndjson"
LIST, DETAIL = "list", "detail"
#: A detail re-read for transport events is not read again within this time.
REFRESH_AFTER = timedelta(hours=20)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Coverage:
    """The span of shipment times complete scans of one fulfilment method have read (None: no complete scan)."""

    covered_from: datetime | None = None
    covered_to: datetime | None = None

    def holds(self, start: datetime, end: datetime) -> bool:
        return (
            self.covered_from is not None
            and self.covered_to is not None
            and self.covered_from <= start
            and self.covered_to >= end
        )


@dataclass(frozen=True)
class Page:
    """One list page as bol answered it, and when the answer arrived."""

    number: int
    shipments: list[dict[str, Any]]
    received_at: datetime

    def oldest(self) -> datetime | None:
        """The earliest readable shipment time on the page (None: none readable)."""
        known = [moment for moment in (shipped_at(entry) for entry in self.shipments) if moment is not None]
        return min(known) if known else None


PageFetch = Callable[[str, int], Page]


def hook_fetch(hook: BolRetailerHook, clock: Clock = _utc_now) -> PageFetch:
    """The pages of ``GET /retailer/shipments`` of a fulfilment method through ``hook``, stamped on arrival."""

    def fetch(method: str, number: int) -> Page:
        params = {"fulfilment-method": method, "page": number}
        entries = hook.get_list_page(LIST_PATH, endpoint=LIST_ENDPOINT, key=LIST_FIELD, params=params)
        return Page(number, entries, clock())

    return fetch


class KnownShipments(Protocol):
    """What the extract asks the warehouse (each call may open its own connection)."""

    def coverage(self) -> dict[str, Coverage]:
        """Per fulfilment method, the span complete scans have read."""

    def with_detail(self, shipment_ids: Iterable[str]) -> set[str]:
        """Those of ``shipment_ids`` whose detail the warehouse holds."""

    def unfinished(self, shipped_since: datetime, read_before: datetime) -> dict[str, str]:
        """Shipments (id -> fulfilment method) shipped since ``shipped_since`` whose stored journey has not ended
        and whose detail was read before ``read_before``."""

    def without_detail(self) -> dict[str, str]:
        """Stored shipments (id -> fulfilment method) without a detail (it answered 404 when last asked)."""


@dataclass
class MethodScan:
    """One fulfilment method's list read."""

    method: str
    started_at: datetime
    bound: datetime
    pages: int = 0
    listed: int = 0
    reached_end: bool = False
    stopped_at_bound: bool = False
    #: What a complete scan covers up to: its start minus the listing margin.
    covered_to: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.reached_end or self.stopped_at_bound

    def info(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "covered_from": self.bound.isoformat(),
            "covered_to": (self.covered_to or self.started_at).isoformat(),
            "complete": self.complete,
        }

    def describe(self) -> str:
        how = "to its end" if self.reached_end else "to the stop bound" if self.stopped_at_bound else "not complete"
        return f"{self.method}: {self.pages} pages ({how}, bound {self.bound.isoformat(timespec='seconds')})"


@dataclass
class ExtractResult:
    """What an extract did (small, for XCom and the audit row)."""

    scans: list[MethodScan] = field(default_factory=list)
    #: The window lies in the span read already: nothing was read.
    skipped_by: str | None = None
    details_fetched: int = 0
    details_refreshed: int = 0
    #: Details an earlier attempt of the same run read (not asked again).
    details_reused: int = 0
    #: Listed shipments whose detail answered 404 (landed from the list; the next run asks again).
    not_found: list[str] = field(default_factory=list)

    @property
    def list_calls(self) -> int:
        return sum(scan.pages for scan in self.scans)

    @property
    def listed(self) -> int:
        return sum(scan.listed for scan in self.scans)

    @property
    def complete(self) -> bool:
        return self.skipped_by is not None or all(scan.complete for scan in self.scans)

    def queries(self) -> str:
        if self.skipped_by:
            return f"nothing read: {self.skipped_by}"
        lists = "; ".join(scan.describe() for scan in self.scans) or "no list read: complete scans read the window"
        details = f"{self.details_fetched} new, {self.details_refreshed} refreshed, {self.details_reused} reused"
        return f"{lists}; details: {details}"


def day_start(day: date) -> datetime:
    """00:00 of a Dutch calendar day, in UTC."""
    return datetime.combine(day, time(0), AMSTERDAM).astimezone(UTC)


def check_history(first: date, now: datetime) -> None:
    """BolWindowTooOld when ``first`` (a Dutch day) is older than bol's 3 months of shipments."""
    oldest = now.astimezone(AMSTERDAM).date() - HISTORY
    if first < oldest:
        raise BolWindowTooOld(
            f"the shipments of {first} (Amsterdam date) cannot be read: bol lists shipments of the last 3 months "
            f"only, the oldest day it serves today is {oldest}. Start the backfill on {oldest} or later.",
            first_served=oldest,
        )


def stop_bound(window: SyncWindow, coverage: Coverage, margin: timedelta, oldest: datetime | None) -> datetime:
    """How far down a scan reads (see the module docstring)."""
    bound = window.start - margin
    if oldest is not None:
        bound = min(bound, oldest)
    if coverage.covered_to is not None:
        bound = min(bound, coverage.covered_to)
    return bound


def read_list(fetch: PageFetch, method: str, bound: datetime, clock: Clock, seen: Callable[[Page], None]) -> MethodScan:
    """Read ``method``'s list from its first page until a page holds a shipment shipped before ``bound``, or the
    list ends (an empty page, or one with fewer than 50 shipments); ``seen`` gets every page."""
    scan = MethodScan(method, clock(), bound)
    number = 1
    while True:
        page = fetch(method, number)
        scan.pages += 1
        scan.listed += len(page.shipments)
        seen(page)
        if len(page.shipments) < PAGE_SIZE:
            scan.reached_end = True
            return scan
        oldest = page.oldest()
        if oldest is not None and oldest < bound:
            scan.stopped_at_bound = True
            return scan
        number += 1


def extract_shipments(
    hook: BolRetailerHook,
    fetch: PageFetch,
    staging: Path,
    known: KnownShipments,
    window: SyncWindow,
    *,
    margin: timedelta,
    oldest_day: date | None = None,
    refresh_since: datetime | None = None,
    personal_secret: bytes | None = None,
    reuse_from: Sequence[Path] = (),
    clock: Clock = _utc_now,
) -> ExtractResult:
    """Stage the run's shipments (see the module docstring); ``refresh_since``: re-read the detail of shipments
    shipped since then whose journey has not ended (None: no refresh); ``reuse_from``: the folders of earlier
    attempts of the same run, whose details are reused instead of asked again."""
    now = clock()
    first = min(window.amsterdam_dates()[0], oldest_day or date.max)
    check_history(first, now)
    oldest = day_start(oldest_day) if oldest_day is not None else None
    result = ExtractResult()
    coverage = known.coverage()
    lowest = min(window.start, oldest) if oldest is not None else window.start
    spans = [coverage.get(method, Coverage()) for method in FULFILMENT_METHODS]
    staging.mkdir(parents=True, exist_ok=True)
    writer = NdjsonWriter(staging / SHIPMENTS_FILE, append=False)
    personal = NdjsonWriter(staging / PERSONAL_FILE, append=False) if personal_secret is not None else None
    try:
        if all(span.holds(lowest, window.end) for span in spans) and refresh_since is None:
            first_from = min(span.covered_from for span in spans if span.covered_from is not None)
            result.skipped_by = (
                f"complete scans read every shipment from {first_from.isoformat(timespec='seconds')} to after the "
                "window's end"
            )
            return result
        listed: dict[str, str] = {}

        def stage_page(method: str) -> Callable[[Page], None]:
            def seen(page: Page) -> None:
                for entry in page.shipments:
                    writer.write(_line(LIST, method, page.received_at, entry))
                    key = shipment_id(entry)
                    if key:
                        listed.setdefault(key, method)

            return seen

        if not all(span.holds(lowest, window.end) for span in spans):
            for method, span in zip(FULFILMENT_METHODS, spans, strict=True):
                bound = stop_bound(window, span, margin, oldest)
                scan = read_list(fetch, method, bound, clock, stage_page(method))
                scan.covered_to = scan.started_at - margin
                result.scans.append(scan)
        held = known.with_detail(listed)
        wanted = {key: method for key, method in listed.items() if key not in held}
        if result.scans:  # a 404 earlier: asked again while within the 3 months
            wanted.update({key: method for key, method in known.without_detail().items() if key not in wanted})
        refresh: dict[str, str] = {}
        if refresh_since is not None:
            refresh = {
                key: method
                for key, method in known.unfinished(refresh_since, now - REFRESH_AFTER).items()
                if key not in wanted
            }
        earlier = earlier_details(reuse_from, set(wanted), personal_secret is not None)
        for line, row in earlier.values():
            writer.write(line)
            if personal is not None and row is not None:
                personal.write(row)
            result.details_reused += 1
        for key, method in [*sorted(wanted.items()), *sorted(refresh.items())]:
            if key in earlier:
                continue
            fetched = fetch_detail(hook, key, clock)
            if fetched is None:
                result.not_found.append(key)
                continue
            body, received = fetched
            writer.write(_line(DETAIL, method, received, body))
            if personal is not None and personal_secret is not None:
                personal.write(personal_row(body, personal_secret))
            if key in wanted:
                result.details_fetched += 1
            else:
                result.details_refreshed += 1
    finally:
        writer.close()
        if personal is not None:
            personal.close()
    return result


def earlier_details(
    folders: Sequence[Path], wanted: set[str], personal: bool
) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """The staged detail lines (and, with ``personal``, the personal rows of their orders) of ``wanted``
    shipments in earlier attempts' folders; a shipment whose personal row is missing there is not reused."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for folder in folders:
        rows = {str(row.get("order_id")): row for row in read_ndjson(folder / PERSONAL_FILE)} if personal else {}
        for line in read_ndjson(folder / SHIPMENTS_FILE):
            entry = line.get("shipment") or {}
            key = shipment_id(entry)
            if line.get("source") != DETAIL or key not in wanted or key in found:
                continue
            row = rows.get(str(order_id(entry)))
            if personal and row is None:
                continue
            found[key] = (line, row)
    return found


def _line(source: str, method: str, observed_at: datetime, entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "source": source,
        "method": method,
        "observed_at": observed_at.isoformat(),
        "shipment": without_personal_data(entry),
    }


def personal_row(body: Mapping[str, Any], secret: bytes) -> dict[str, Any]:
    """The order's personal row (orders' personal store) from a shipment's shipment and billing details."""
    order = body.get("order")
    placed = order.get("orderPlacedDateTime") if isinstance(order, Mapping) else None
    as_order = {
        "orderId": order_id(body),
        "shipmentDetails": body.get("shipmentDetails"),
        "billingDetails": body.get("billingDetails"),
    }
    return {**personal_record(as_order, secret), "order_placed_at": placed}


def fetch_detail(hook: BolRetailerHook, wanted: str, clock: Clock) -> tuple[dict[str, Any], datetime] | None:
    """The full shipment (with personal data), checked to be the one asked for; None on 404."""
    path = f"/retailer/shipments/{path_segment(wanted, 'a shipment')}"
    try:
        body = hook.get_json(path, endpoint=DETAIL_ENDPOINT)
    except BolNotFound:
        return None
    received = clock()
    if not isinstance(body, dict):
        got = "an empty body" if body is None else type(body).__name__
        raise BolResponseError(f"{DETAIL_ENDPOINT} for shipment {wanted}: expected a JSON object, got {got}.")
    answered = shipment_id(body)
    if not answered:
        raise BolResponseError(
            f"{DETAIL_ENDPOINT} for shipment {wanted}: the body has no 'shipmentId' naming the shipment."
        )
    if answered != wanted:
        raise BolInconsistentResponse(
            f"{DETAIL_ENDPOINT} for shipment {wanted} answered shipment {answered[:40]!r}; it is not stored under "
            f"{wanted} (a cache or routing fault between bolsync and bol)."
        )
    return body, received
