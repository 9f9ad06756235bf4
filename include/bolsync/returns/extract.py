"""Extract: the four return lists and the details they call for, staged to disk.

bol's return lists have no change-date filter: each is a snapshot. Unhandled returns come oldest registration
first, handled ones newest first (the spec; the emulator does the same). A run reads, per fulfilment method:

1. the **unhandled list, completely** (open returns: few pages), checked against page shifts (``paging``);
2. the **handled list down to a stop bound** (or completely: the first run, a ``full_scan`` run);
3. every return the warehouse holds as **open that left the unhandled list** and was not on a handled page read,
   so its handling and processing results are never missed: by id (``GET /retailer/returns/{id}``), or, where
   several of them now stand on one page of the handled list (its place is known from what the warehouse holds),
   from that page by its number: one call instead of one each;
4. by id, the detail of every return **new since the previous scan** (title, transporter, track and trace, and
   for opted-in accounts the customer's details): once, never again while the lists show it unchanged.

The stop rule of the handled list, and why it misses no state change. Assumptions: (A1) bol lists a return from
its registration on (up to :data:`REGISTRATION_MARGIN` of clock skew or delay) in exactly one of the two lists
of its fulfilment method: handled once all its items are, unhandled until then; it never goes back. (A2) Its
``registrationDateTime`` never changes and orders both lists. (A3) A return changes only while unhandled (an item
handled, a processing result added), by becoming handled, or by a change to a return already handled (the spec's
"change the handlingResult of an already handled return").

Call a scan *complete* when its unhandled list held still (``paging``) and its handled list was read to its end
or its bound; ``bol.return_scans`` keeps when the last complete scan started (S). Invariant: after a complete scan
started at S, the warehouse has observed, at S or later, every return registered before S - margin (open ones as
open). The first scan reads everything, so it holds. The next scan (bound B = S - margin) keeps it: a return
registered before its own start minus the margin is now (i) in the unhandled list, read completely (a return a
page shift hides is either known, and then re-read by id as one that left, or unknown, and then registered after
B: the boundaries that can hide such a return are checked); or (ii) handled: if the warehouse holds it as open,
it is on a handled page read or re-read by id; if the warehouse does not know it, it was registered after B
(invariant), and a handled return registered after B is on the pages read, since they reach past B (returns
handled meanwhile only push later ones down). So every state change of (A3)'s first two kinds is seen by the next
complete scan. A change of the third kind (a handled return handled again) shows only at the return's place in
the handled list: the hourly scan sees it when it is on a page it reads (it keeps reading past the bound while a
page shows something new or changed), the daily scan (``full_scan``) reads the handled lists completely and sees
every one.

Returns are staged without personal data; for an opted-in account the customer's details and comments are staged
apart (``personal``) for the personal store, else dropped here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bolsync.personal.records import return_customer_rows
from bolsync.returns.entries import fingerprint, registered_at, return_id, without_personal_data
from bolsync.returns.paging import ListRead, Page, PageFetch, ReturnList, read_handled, read_unhandled
from bolsync.returns.spec import DETAIL_ENDPOINT, FULFILMENT_METHODS, PAGE_SIZE
from bolsync.runs.config import DEFAULT_RETURNS_MARGIN_MINUTES
from bolsync.runs.staging import NdjsonWriter, read_ndjson
from bolsync.runs.windows import SyncWindow
from bolsync_provider.errors import BolInconsistentResponse, BolNotFound, BolResponseError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook, path_segment

log = logging.getLogger(__name__)

#: Staged files of one attempt: every list entry and detail read (without personal data), and the personal rows.
RETURNS_FILE = "returns.ndjson"
PERSONAL_FILE = "return_customers.ndjson"
#: A return is listed at most this long after its registration time says (clock skew, delay): see A1. Setting
#: ``[bolsync] returns_registration_margin_minutes`` (``runs.config``).
REGISTRATION_MARGIN = timedelta(minutes=DEFAULT_RETURNS_MARGIN_MINUTES)
DETAIL = "detail"

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScanState:
    """When the last complete scan of a fulfilment method started, and the last complete full one."""

    started_at: datetime | None = None
    full_started_at: datetime | None = None


class KnownReturns(Protocol):
    """What the extract asks the warehouse (each call may open its own connection)."""

    def scans(self) -> dict[str, ScanState]:
        """Per fulfilment method, its last complete scans."""

    def open_returns(self) -> dict[str, set[str]]:
        """Per fulfilment method, the returns stored as not handled (less those whose detail answered 404)."""

    def fingerprints(self, return_ids: Iterable[str]) -> dict[str, str]:
        """The stored state fingerprint of those of ``return_ids`` the warehouse holds."""

    def handled_ahead(self, method: str, return_ids: Iterable[str]) -> dict[str, tuple[datetime, int]]:
        """Of stored returns of ``method`` among ``return_ids``: their registration, and how many stored handled
        returns of the method the handled list puts before them (a later registration; on a tie a greater id)."""


@dataclass
class MethodScan:
    """One fulfilment method's part of a run."""

    method: str
    started_at: datetime
    #: Returns registered before this are known to the warehouse (None: no complete scan yet).
    known_before: datetime | None
    full: bool
    unhandled: ListRead
    handled: ListRead

    @property
    def complete(self) -> bool:
        return self.unhandled.complete and self.handled.complete

    def info(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "complete": self.complete,
            "full": self.full and self.handled.reached_end,
        }


@dataclass
class ExtractResult:
    """What an extract did (small, for XCom and the audit row)."""

    scans: list[MethodScan] = field(default_factory=list)
    #: The window was observed by a later complete scan already: nothing was read.
    skipped_by: str | None = None
    returns_listed: int = 0
    details_fetched: int = 0
    details_reused: int = 0
    #: Returns that left the unhandled list and were not on a handled page read.
    left_unhandled: int = 0
    #: Returns whose detail answered 404, and when.
    not_found: dict[str, str] = field(default_factory=dict)

    @property
    def list_calls(self) -> int:
        return sum(scan.unhandled.calls + scan.handled.calls for scan in self.scans)

    @property
    def complete(self) -> bool:
        return self.skipped_by is not None or all(scan.complete for scan in self.scans)

    def queries(self) -> str:
        if self.skipped_by:
            return f"nothing read: {self.skipped_by}"
        return "; ".join(f"{read.describe()}" for scan in self.scans for read in (scan.unhandled, scan.handled))


def extract_returns(
    hook: BolRetailerHook,
    fetch: PageFetch,
    staging: Path,
    known: KnownReturns,
    window: SyncWindow,
    *,
    full: bool,
    reuse_from: Sequence[Path] = (),
    personal_secret: bytes | None = None,
    margin: timedelta = REGISTRATION_MARGIN,
    clock: Clock = _utc_now,
) -> ExtractResult:
    """Stage the run's returns (see the module docstring); ``full`` reads the handled lists completely, ``margin``
    is :data:`REGISTRATION_MARGIN` as configured."""
    result = ExtractResult()
    scans = known.scans()
    skipped = _observed_already(scans, window, full)
    if skipped:
        result.skipped_by = skipped
        _write(staging, [], [], personal_secret is not None)
        log.info("Returns of %s: %s.", hook.bol_conn_id, skipped)
        return result
    stored_open = known.open_returns()
    for method in FULFILMENT_METHODS:
        scan = _scan(fetch, method, scans.get(method, ScanState()), full, known, margin, clock)
        _read_pages_of_leavers(fetch, scan, stored_open.get(method, set()), known)
        result.scans.append(scan)
    entries = [(scan, entry, page, read) for scan in result.scans for read in (scan.unhandled, scan.handled)
               for entry, page in read.returns()]  # fmt: skip
    listed = {return_id(entry) for _, entry, _, _ in entries}
    result.returns_listed = len(listed)
    stored = known.fingerprints(listed)
    wanted = _details_wanted(result, entries, stored, stored_open)
    reused = _reusable_details(reuse_from, wanted)
    result.details_reused = len(reused)
    details: list[tuple[dict[str, Any], datetime]] = [(body, at) for body, at, _ in reused.values()]
    personal: list[dict[str, Any]] = [row for _, _, rows in reused.values() for row in rows]
    for wanted_id in sorted(set(wanted) - set(reused)):
        detail = _fetch_detail(hook, wanted_id, clock)
        if detail is None:
            result.not_found[wanted_id] = clock().isoformat()
            log.warning(
                "Return %s (%s) answers 404 by id; its stored rows are kept as they are.", wanted_id, wanted[wanted_id]
            )
            continue
        result.details_fetched += 1
        details.append(detail)
        if personal_secret is not None:
            personal += _personal_rows(detail[0], personal_secret, from_detail=True)
    if personal_secret is not None:
        for _, entry, _, _ in entries:
            personal += _personal_rows(entry, personal_secret, from_detail=False)
    listed_lines = [_line(entry, page.received_at, f"{read.listing.describe()} p{page.number}")
                    for _, entry, page, read in entries]  # fmt: skip
    _write(staging, [*listed_lines, *(_line(body, at, DETAIL) for body, at in details)], personal,
           personal_secret is not None)  # fmt: skip
    log.info(
        "Returns of %s: %s; %d returns listed, %d left the unhandled list, %d details fetched (%d reused from "
        "earlier attempts), %d answered 404.%s",
        hook.bol_conn_id,
        result.queries(),
        result.returns_listed,
        result.left_unhandled,
        result.details_fetched,
        result.details_reused,
        len(result.not_found),
        "" if result.complete else " Not complete: the next run reads from the last complete scan's bound.",
    )
    return result


def _observed_already(scans: Mapping[str, ScanState], window: SyncWindow, full: bool) -> str | None:
    """Why the window needs no read: a complete scan (a full one, for ``full``) of every method started after
    its end, and so observed every change of it already. None when it does need one."""
    starts = [getattr(scans.get(method, ScanState()), "full_started_at" if full else "started_at")
              for method in FULFILMENT_METHODS]  # fmt: skip
    if any(start is None or start < window.end for start in starts):
        return None
    kind = "full scan" if full else "scan"
    first = min(start for start in starts if start is not None)
    return f"a complete {kind} started at {first.isoformat(timespec='seconds')}, after the window's end"


def _scan(
    fetch: PageFetch,
    method: str,
    state: ScanState,
    full: bool,
    known: KnownReturns,
    margin: timedelta,
    clock: Clock,
) -> MethodScan:
    started = clock()
    known_before = state.started_at - margin if state.started_at else None

    def recent(page: Page) -> bool:
        """A page that may list returns the warehouse does not know yet (registered after ``known_before``)."""
        if known_before is None:
            return True
        return any(moment is None or moment >= known_before for moment in page.registrations)

    def settled(page: Page) -> bool:
        """Nothing on the page registered before the bound is new or changed."""
        older = [e for e, moment in zip(page.returns, page.registrations, strict=True)
                 if moment is not None and known_before is not None and moment < known_before]  # fmt: skip
        stored = known.fingerprints(return_id(entry) for entry in older)
        return all(stored.get(return_id(entry)) == fingerprint(entry) for entry in older)

    unhandled = read_unhandled(fetch, ReturnList(method, False), recent)
    bound = None if full else known_before
    handled = read_handled(fetch, ReturnList(method, True), bound, settled)
    return MethodScan(method, started, known_before, full or known_before is None, unhandled, handled)


def _read_pages_of_leavers(fetch: PageFetch, scan: MethodScan, stored_open: set[str], known: KnownReturns) -> None:
    """Read the handled-list pages where two or more returns that left the unhandled list now stand, by page number
    (one call instead of a detail each); the rest is read by id. Their place is known: the list holds the handled
    returns the warehouse knows, the ones that left the unhandled list, and the ones the pages read show handled
    that the warehouse did not know as handled."""
    seen = scan.unhandled.ids() | scan.handled.ids()
    left = stored_open - seen
    if len(left) < 2:
        return
    placed = known.handled_ahead(scan.method, left)
    stored = known.fingerprints(entry_id for entry_id in scan.handled.ids())
    handled_now = {
        (moment, key)
        for entry, _ in scan.handled.returns()
        if ((key := return_id(entry)) not in stored or key in stored_open)
        and (moment := registered_at(entry)) is not None
    }
    pages: dict[int, int] = {}
    for key, (moment, ahead) in placed.items():
        ahead += sum(1 for other, (when, _) in placed.items() if (when, other) > (moment, key))
        ahead += sum(1 for when, other in handled_now if (when, other) > (moment, key))
        number = ahead // PAGE_SIZE + 1
        pages[number] = pages.get(number, 0) + 1
    read = max((page.number for page in scan.handled.pages), default=0)
    for number in sorted(number for number, count in pages.items() if count >= 2 and number > read):
        scan.handled.pages.append(fetch(scan.handled.listing, number))
        scan.handled.by_position += 1


def _details_wanted(
    result: ExtractResult,
    entries: Sequence[tuple[MethodScan, dict[str, Any], Page, ListRead]],
    stored: Mapping[str, str],
    stored_open: Mapping[str, set[str]],
) -> dict[str, str]:
    """Return id -> why its detail is read: it left the unhandled list and no handled page read showed it, or it is
    new since the previous scan (open, or registered after the bound)."""
    wanted: dict[str, str] = {}
    for scan in result.scans:
        seen = scan.unhandled.ids() | scan.handled.ids()
        left = stored_open.get(scan.method, set()) - seen
        result.left_unhandled += len(left)
        wanted.update(dict.fromkeys(sorted(left), "left the unhandled list"))
    for scan, entry, _, read in entries:
        key = return_id(entry)
        if not key or key in stored or key in wanted:
            continue
        moment = registered_at(entry)
        recent = scan.known_before is not None and moment is not None and moment >= scan.known_before
        if not read.listing.handled or recent:
            wanted[key] = "new"
    return wanted


def _fetch_detail(hook: BolRetailerHook, wanted: str, clock: Clock) -> tuple[dict[str, Any], datetime] | None:
    """The full return (with personal data), checked to be the one asked for; None on 404."""
    path = f"/retailer/returns/{path_segment(wanted, 'a return')}"
    try:
        body = hook.get_json(path, endpoint=DETAIL_ENDPOINT)
    except BolNotFound:
        return None
    received = clock()
    if not isinstance(body, dict):
        got = "an empty body" if body is None else type(body).__name__
        raise BolResponseError(f"{DETAIL_ENDPOINT} for return {wanted}: expected a JSON object, got {got}.")
    answered = return_id(body)
    if not answered:
        raise BolResponseError(f"{DETAIL_ENDPOINT} for return {wanted}: the body has no 'returnId' naming the return.")
    if answered != wanted:
        raise BolInconsistentResponse(
            f"{DETAIL_ENDPOINT} for return {wanted} answered return {answered[:40]!r}; it is not stored under "
            f"{wanted} (a cache or routing fault between bolsync and bol)."
        )
    return body, received


def _personal_rows(entry: Mapping[str, Any], secret: bytes, *, from_detail: bool) -> list[dict[str, Any]]:
    rows = return_customer_rows(entry, secret)
    for row in rows:
        row["from_detail"] = from_detail
    return rows


def _line(entry: Mapping[str, Any], received_at: datetime, source: str) -> dict[str, Any]:
    return {"observed_at": received_at.isoformat(), "source": source, "return": without_personal_data(entry)}


def _write(staging: Path, lines: Iterable[dict[str, Any]], personal: Iterable[dict[str, Any]], opted_in: bool) -> None:
    """The attempt's files, written from scratch (whatever an earlier attempt left in this folder)."""
    with NdjsonWriter(staging / RETURNS_FILE, append=False) as out:
        for line in lines:
            out.write(line)
    if opted_in:
        with NdjsonWriter(staging / PERSONAL_FILE, append=False) as out:
            for row in personal:
                out.write(row)


def _reusable_details(
    folders: Sequence[Path], wanted: Mapping[str, str]
) -> dict[str, tuple[dict[str, Any], datetime, list[dict[str, Any]]]]:
    """Details of ``wanted`` returns that earlier attempts of the run staged (first folder wins), with their
    personal rows: (detail without personal data, when it arrived, personal rows)."""
    found: dict[str, tuple[dict[str, Any], datetime, list[dict[str, Any]]]] = {}
    for folder in folders:
        try:
            for line in read_ndjson(folder / RETURNS_FILE):
                key = return_id(line.get("return") or {})
                if line.get("source") == DETAIL and key in wanted and key not in found:
                    found[key] = (line["return"], datetime.fromisoformat(line["observed_at"]), [])
            personal = folder / PERSONAL_FILE
            if personal.exists():
                for row in read_ndjson(personal):
                    key = str(row.get("return_id"))
                    if row.get("from_detail") and key in found:
                        found[key][2].append(row)
        except OSError as error:  # e.g. removed meanwhile by the cleanup of another attempt
            log.info("Staged return details in %s not reused: %s", folder, error)
    return found
