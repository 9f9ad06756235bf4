"""The invoices stream's own window, extract, load and planner estimate, run by the generic stream tasks
(``streams.tasks``) and the backfill planner.

Window: the run's week (its data interval), or the issue dates its ``period_start`` and ``period_end`` params
name (``periods``). Extract: those days listed in periods of at most 31 days, and every invoice not held complete
read (``extract``). Load: the invoices and their reconciled lines merged, what does not add up held in the
quarantine (``load``), invoices without a JSON specification reported once (``report``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bolsync.invoices.extract import extract_invoices
from bolsync.invoices.load import InvoicesLoaded, load_invoices, stored_states
from bolsync.invoices.periods import BadPeriod, days_of, list_periods, requested_window
from bolsync.invoices.report import report_without_specification
from bolsync.invoices.spec import (
    DAG_ID,
    DOCUMENT_ENDPOINT,
    INVOICE_LINES,
    INVOICES,
    LIST_ENDPOINT,
    SPECIFICATION_PAGE_SIZE,
)
from bolsync.invoices.transform import RECONCILED, WITHOUT_SPECIFICATION
from bolsync.runs.quarantine import held_note
from bolsync.runs.windows import SyncWindow, run_window
from bolsync.streams.spec import CallEstimate, Extracted, ExtractJob, Loaded, LoadJob, PlanJob
from bolsync.warehouse.connection import connect_warehouse

#: Invoices bol issues a seller in 30 days when the warehouse holds none to learn from (twice a month).
DEFAULT_INVOICES_PER_30_DAYS = 2.0


def window(context: Any) -> SyncWindow:
    """The run's issue dates: its params' period, else its data interval."""
    try:
        requested = requested_window(context.get("params") or {}, datetime.now(UTC))
    except BadPeriod as error:
        raise AirflowFailException(f"{DAG_ID}: {error}") from None
    return requested or run_window(context)


def extract(job: ExtractJob) -> Extracted:
    """List the window's periods and stage every invoice the warehouse does not hold complete."""
    first, last = days_of(job.window)
    periods = list_periods(first, last)

    def states(invoice_ids: set[str]) -> dict[str, str]:
        with connect_warehouse(job.database) as conn:
            return stored_states(conn, job.retailer_id, invoice_ids)

    result = extract_invoices(job.hook, periods, job.staging, states, job.earlier)
    notes = []
    if result.empty_periods:
        notes.append(f"no invoices issued in {', '.join(result.empty_periods)}")
    if result.unreadable:
        notes.append(f"{result.unreadable} listed invoice(s) name no usable invoice id (held in the quarantine)")
    return Extracted(
        audit={
            "queries": "; ".join(f"period {p}" for p in result.periods),
            "records_listed": result.listed,
            "details_fetched": result.details_fetched,
            "pages": result.specification_pages,
        },
        notes=notes,
    )


def load(job: LoadJob) -> Loaded:
    """Merge the staged invoices; report the ones without a JSON specification once."""
    loaded = load_invoices(job.conn, job.retailer_id, job.staging, job.lineage, job.quarantine)
    reported = report_without_specification(job.conn, job.conn_id, job.retailer_id, job.context, datetime.now(UTC))
    return Loaded(
        tables={INVOICES.name: loaded.invoices, INVOICE_LINES.name: loaded.lines},
        held=len(loaded.held),
        notes=[note for note in (_read_note(loaded), held_note(loaded.held), reported) if note],
    )


def _read_note(loaded: InvoicesLoaded) -> str | None:
    parts = [f"{n} {status}" for status, n in sorted(loaded.statuses.items())]
    if loaded.empty_periods:
        parts.append(f"empty periods: {', '.join(loaded.empty_periods)}")
    if loaded.lines_removed:
        parts.append(f"{loaded.lines_removed} stored lines no longer in their invoice's newest read removed")
    return ("invoices read: " + "; ".join(parts)) if parts else None


def estimate(job: PlanJob) -> CallEstimate:
    """The calls a backfill of ``job.first`` .. ``job.last`` makes: one list call per period of at most 31 days;
    for each invoice of those days not held complete, its detail and its specification pages. The invoices to
    expect are the account's stored rhythm (invoices and lines per day over its stored history), less the ones
    already held complete; with no history, bol's twice a month and one page each."""
    periods = list_periods(job.first, job.last)
    first = min(start for start, _ in periods)
    days = (job.last - first).days + 1
    rows = job.conn.query(
        f"SELECT issue_date, specification_status, line_count FROM {INVOICES.name} WHERE retailer_id = ?",
        [job.retailer_id],
    )
    issued = [row[0] for row in rows if row[0] is not None]
    complete = sum(1 for day, status, _ in rows if day is not None and first <= day <= job.last and status in _COMPLETE)
    if issued:
        span = (max(issued) - min(issued)).days + 15
        per_day = len(issued) / span
    else:
        per_day = DEFAULT_INVOICES_PER_30_DAYS / 30
    counts = [int(row[2]) for row in rows if row[2] is not None]
    lines = sum(counts) / len(counts) if counts else 0.0
    pages = math.floor(lines / SPECIFICATION_PAGE_SIZE) + 1
    new = max(0, round(per_day * days) - complete)
    return CallEstimate(
        calls={LIST_ENDPOINT: len(periods), DOCUMENT_ENDPOINT: new * (pages + 1)},
        note=(
            f"{len(periods)} list call(s) for {days} days; about {new} invoice(s) to read (the account's "
            f"{'stored rhythm' if issued else 'assumed twice a month'}, less {complete} held complete), each its "
            f"detail and {pages} specification page(s)"
        ),
    )


_COMPLETE = (RECONCILED, *WITHOUT_SPECIFICATION)
