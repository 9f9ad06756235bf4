"""Extract: list the run's billing periods, then read each invoice the warehouse does not hold complete.

Per period (``periods``) one ``GET /retailer/invoices`` (no paging); an answer naming no invoice is an empty
period. For every listed invoice that is new, held in the quarantine, or recorded without a JSON specification
that bol now offers (:func:`needs_read`), the specification is read first (``GET /retailer/invoices/{id}/
specification?page=n``, up to 25,000 lines a page), then the UBL detail (``GET /retailer/invoices/{id}``, the
totals per VAT rate); an invoice whose list entry offers no JSON specification costs no call, a specification
bol does not have (404) or has only as a spreadsheet (406) ends its reads. Nothing else is ever read again: an
issued invoice does not change (bol corrects one with a later invoice's correction lines).

A page shorter than 25,000 lines ends the specification. Should the lines read so far not add up to the
detail's totals, the next pages are read until an empty one, so a smaller page size than bol documents never
cuts a specification short; a page repeating the one before it, or more than :data:`MAX_SPECIFICATION_PAGES`,
is an inconsistent answer (retried later), never the end of the lines.

Staged: ``invoice_list.ndjson`` (one line per period: its dates and entries) and ``invoice_documents.ndjson``
(one line per invoice read: what was read, when, and the detail and lines). Invoices an earlier attempt of the
same run read are taken from its folder, not read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bolsync.invoices import documents
from bolsync.invoices.documents import Listed, canonical
from bolsync.invoices.periods import Period
from bolsync.invoices.reconcile import reconcile
from bolsync.invoices.spec import DOCUMENT_ENDPOINT, LIST_ENDPOINT, SPECIFICATION_PAGE_SIZE
from bolsync.invoices.transform import (
    LATEST_DATE,
    LATEST_MOMENT,
    MISSING,
    READ,
    WITHOUT_SPECIFICATION,
    XLSX_ONLY,
)
from bolsync.runs.quarantine import InvalidRecord
from bolsync.runs.staging import NdjsonWriter, read_ndjson
from bolsync_provider.errors import BolClientError, BolInconsistentResponse, BolNotFound, BolResponseError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook, path_segment

log = logging.getLogger(__name__)

LIST_FILE = "invoice_list.ndjson"
DOCUMENTS_FILE = "invoice_documents.ndjson"
#: Specification pages one invoice may take (25 million lines): more is a list that does not end.
MAX_SPECIFICATION_PAGES = 1_000
#: The stored state of an invoice held in the quarantine (its read did not land).
HELD = "held"

#: Stored state of listed invoices (id -> ``specification_status``, or :data:`HELD`); unknown ids are absent.
StoredStates = Callable[[set[str]], Mapping[str, str]]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ExtractResult:
    """What an extract did; small enough for XCom."""

    periods: list[str] = field(default_factory=list)
    empty_periods: list[str] = field(default_factory=list)
    listed: int = 0
    #: Listed entries that name no usable invoice id (the load holds them).
    unreadable: int = 0
    #: Invoices read now, taken from an earlier attempt, and left alone as held complete already.
    read: int = 0
    reused: int = 0
    known: int = 0
    details_fetched: int = 0
    specification_pages: int = 0
    without_specification: list[str] = field(default_factory=list)


def needs_read(entry: Listed, stored: str | None) -> bool:
    """Whether a listed invoice must be read: new, held in the quarantine, or recorded without a JSON
    specification that its list entry now offers."""
    if stored is None or stored == HELD:
        return True
    if stored in WITHOUT_SPECIFICATION:
        return entry.json_offered is True
    return False


def extract_invoices(
    hook: BolRetailerHook,
    periods: Sequence[Period],
    staging: Path,
    stored_states: StoredStates,
    earlier: Sequence[Path] = (),
    clock: Clock = _utc_now,
) -> ExtractResult:
    """List ``periods`` and stage every invoice :func:`needs_read` names (see the module docstring)."""
    result = ExtractResult(periods=[f"{start}..{end}" for start, end in periods])
    entries = _list(hook, periods, staging, result, clock)
    stored = stored_states(set(entries)) if entries else {}
    reusable = _earlier_documents(earlier)
    with NdjsonWriter(staging / DOCUMENTS_FILE, append=False) as staged:
        for invoice_id, entry in entries.items():
            if not needs_read(entry, stored.get(invoice_id)):
                result.known += 1
                continue
            document = reusable.get(invoice_id)
            if document is not None:
                result.reused += 1
            else:
                document = read_document(hook, entry, result, clock)
                result.read += 1
            if document["specification"] in WITHOUT_SPECIFICATION:
                result.without_specification.append(f"{invoice_id} ({document['specification']})")
            staged.write(document)
    log.info(
        "Invoices of %s: %d listed in %s (empty: %s), %d read now, %d taken from an earlier attempt, %d known "
        "complete; %d details and %d specification pages fetched.",
        hook.bol_conn_id,
        result.listed,
        ", ".join(result.periods),
        ", ".join(result.empty_periods) or "none",
        result.read,
        result.reused,
        result.known,
        result.details_fetched,
        result.specification_pages,
    )
    return result


def _list(
    hook: BolRetailerHook, periods: Sequence[Period], staging: Path, result: ExtractResult, clock: Clock
) -> dict[str, Listed]:
    """Stage each period's entries; the distinct invoices listed (by id, the last listing winning)."""
    entries: dict[str, Listed] = {}
    with NdjsonWriter(staging / LIST_FILE, append=False) as listed:
        for start, end in periods:
            params = {"period-start-date": start.isoformat(), "period-end-date": end.isoformat()}
            found = list_entries(hook.get_object("/retailer/invoices", endpoint=LIST_ENDPOINT, params=params), params)
            listed.write({"period_start": start.isoformat(), "period_end": end.isoformat(), "invoices": found})
            if not found:
                result.empty_periods.append(f"{start}..{end}")
            for raw in found:
                try:
                    entry = documents.listed(raw, clock().date() + LATEST_DATE)
                except InvalidRecord:
                    result.unreadable += 1
                    continue
                entries[entry.invoice_id] = entry
    result.listed = len(entries) + result.unreadable
    return entries


def list_entries(body: Mapping[str, Any], params: Mapping[str, str]) -> list[Any]:
    """The ``invoiceListItems`` of a list answer; ``[]`` for ``{}`` or an answer that names only its ``period``.
    Anything else is malformed: an answer that cannot be read must never look like an empty period."""
    where = f"{LIST_ENDPOINT} ({', '.join(f'{k}={v}' for k, v in params.items())})"
    items = body.get("invoiceListItems")
    if items is None:
        if set(body) <= {"period"}:
            return []
        keys = ", ".join(repr(str(k)[:40]) for k in list(body)[:5])
        raise BolResponseError(f"{where}: the answer has no 'invoiceListItems' list (keys: {keys}).")
    if not isinstance(items, list):
        raise BolResponseError(f"{where}: 'invoiceListItems' is not a list.")
    return items


def read_document(hook: BolRetailerHook, entry: Listed, result: ExtractResult, clock: Clock) -> dict[str, Any]:
    """What bol has of one invoice: its specification's lines (or why there are none) and its detail."""
    invoice_id = entry.invoice_id
    document: dict[str, Any] = {"invoiceId": invoice_id, "specification": READ, "lines": None, "detail": None}
    if entry.json_offered is False:
        document.update(specification=XLSX_ONLY if entry.xlsx_offered else MISSING, read_at=clock().isoformat())
        return document
    base = f"/retailer/invoices/{path_segment(invoice_id, 'an invoice')}"
    try:
        lines, last, last_page = _pages(hook, base, invoice_id, 1, result, stop_short=True)
    except BolNotFound:
        document.update(specification=MISSING, read_at=clock().isoformat())
        return document
    except BolClientError as error:
        if error.status != 406:
            raise
        document.update(specification=XLSX_ONLY, read_at=clock().isoformat())
        return document
    detail = hook.get_object(base, endpoint=DOCUMENT_ENDPOINT)
    result.details_fetched += 1
    check_invoice_identity(invoice_id, detail)
    if last and not _adds_up(invoice_id, detail, lines, clock()):
        log.info(
            "Invoice %s: the %d lines of its specification's short last page do not add up to its totals; "
            "reading on until an empty page.",
            invoice_id,
            len(lines),
        )
        more, _, _ = _pages(hook, base, invoice_id, last + 1, result, stop_short=False, previous=last_page)
        lines += more
    document.update(lines=lines, detail=detail, read_at=clock().isoformat())
    return document


def _pages(
    hook: BolRetailerHook,
    base: str,
    invoice_id: str,
    first: int,
    result: ExtractResult,
    *,
    stop_short: bool,
    previous: list[Any] | None = None,
) -> tuple[list[Any], int, list[Any]]:
    """Specification lines from page ``first`` on, until an empty page (or, with ``stop_short``, a short one).

    Returns the lines, the number of the short page that ended them (0: an empty page did) and that page's lines;
    ``previous``: the lines of the page before ``first``, which the first page read must not repeat."""
    lines: list[Any] = []
    before = canonical(previous) if previous else None
    for page in range(first, first + MAX_SPECIFICATION_PAGES):
        found = hook.get_list_page(
            f"{base}/specification", endpoint=DOCUMENT_ENDPOINT, key="invoiceSpecification", params={"page": page}
        )
        result.specification_pages += 1
        if not found:
            return lines, 0, []
        text = canonical(found)
        if text == before:
            raise BolInconsistentResponse(
                f"{DOCUMENT_ENDPOINT} specification of invoice {invoice_id}: page {page} repeats page {page - 1} "
                f"({len(found)} lines); a specification that does not move on is not read as complete."
            )
        before = text
        lines += found
        if stop_short and len(found) < SPECIFICATION_PAGE_SIZE:
            return lines, page, found
    raise BolInconsistentResponse(
        f"{DOCUMENT_ENDPOINT} specification of invoice {invoice_id}: still not at its end after "
        f"{MAX_SPECIFICATION_PAGES} pages; a specification that does not end is not read as complete."
    )


def _adds_up(invoice_id: str, detail: Any, lines: list[Any], now: datetime) -> bool:
    """Whether the lines add up to the detail's totals (True when they cannot be read: the load refuses them)."""
    try:
        figures = documents.detail(invoice_id, detail, now.date() + LATEST_DATE)
        read = documents.lines(invoice_id, lines, now + LATEST_MOMENT)
    except InvalidRecord:
        return True
    if figures.total_excl_vat is None or figures.total_vat is None:
        return True
    check = reconcile(
        documents.sums_by_rate(read), figures.total_excl_vat.amount, figures.total_vat.amount, figures.by_rate
    )
    return check.balanced


def check_invoice_identity(asked: str, detail: Mapping[str, Any]) -> None:
    """Raise unless ``detail`` (bol's answer for ``asked``) is that invoice: another invoice's detail is an
    inconsistent answer (retriable), a detail naming none is read as it is."""
    found, _ = documents.shapes.unwrapped(detail, ("ID",))
    if found is not None and str(found) != asked:
        raise BolInconsistentResponse(
            f"{DOCUMENT_ENDPOINT} for invoice {asked} answered the detail of invoice {str(found)[:40]!r}; it is not "
            f"stored under {asked} (a cache or routing fault between bolsync and bol)."
        )


def _earlier_documents(folders: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Invoices earlier attempts of this run read completely, by id."""
    found: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for document in read_ndjson(folder / DOCUMENTS_FILE):
            if isinstance(document.get("invoiceId"), str) and document.get("read_at"):
                found[document["invoiceId"]] = document
    return found
