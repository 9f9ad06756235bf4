"""The shipments stream's own extract, load and planner estimate, run by the generic stream tasks
(``streams.tasks``).

Extract: the two list scans down to their stop bound and the details they call for (``shipments.extract``), the
scanned span read from the warehouse. Load: one transaction (``shipments.load``), bad shipments held in the
quarantine, the shipment and billing details of opted-in accounts to the personal store (as their orders' rows).
A run whose scan was not complete lands what it read but does not record its window as covered or widen the span.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from bolsync.personal.tasks import store_personal_data
from bolsync.runs import config
from bolsync.runs.quarantine import held_note
from bolsync.shipments.extract import Coverage, ExtractResult, day_start, extract_shipments, hook_fetch
from bolsync.shipments.load import MethodScanned, load_shipments
from bolsync.shipments.spec import (
    DETAIL_ENDPOINT,
    FULFILMENT_METHODS,
    LIST_ENDPOINT,
    OLDEST_DAY_PARAM,
    PAGE_SIZE,
    REFRESH_EVENTS_PARAM,
    SHIPMENT_ITEMS,
    SHIPMENT_SCANS,
    SHIPMENTS,
)
from bolsync.streams.spec import CallEstimate, Extracted, ExtractJob, Loaded, LoadJob, PlanJob
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync_provider.errors import BolConfigError

#: ``Extracted.info`` keys.
SCANS = "scans"


class WarehouseShipments:
    """What the extract asks the warehouse about one retailer's shipments (``extract.KnownShipments``)."""

    def __init__(self, database: WarehouseTarget, retailer_id: str) -> None:
        self.database = database
        self.retailer_id = retailer_id

    def coverage(self) -> dict[str, Coverage]:
        with connect_warehouse(self.database) as conn:
            return coverage(conn, self.retailer_id)

    def with_detail(self, shipment_ids: Iterable[str]) -> set[str]:
        wanted = pd.DataFrame({"shipment_id": sorted(set(shipment_ids))}, dtype="string")
        if wanted.empty:
            return set()
        with connect_warehouse(self.database) as conn, conn.staged(wanted, SHIPMENTS.name) as keys:
            rows = conn.query(
                f"SELECT s.shipment_id FROM {SHIPMENTS.name} s JOIN {keys} k ON k.shipment_id = s.shipment_id "
                "WHERE s.retailer_id = ? AND s.detail_read_at IS NOT NULL",
                [self.retailer_id],
            )
        return {str(row[0]) for row in rows}

    def unfinished(self, shipped_since: datetime, read_before: datetime) -> dict[str, str]:
        with connect_warehouse(self.database) as conn:
            rows = conn.query(
                f"SELECT shipment_id, fulfilment_method FROM {SHIPMENTS.name} WHERE retailer_id = ? "
                "AND shipped_at >= ? AND detail_read_at < ? AND NOT journey_ended",
                [self.retailer_id, shipped_since, read_before],
            )
        return {str(key): str(method) for key, method in rows}

    def without_detail(self) -> dict[str, str]:
        with connect_warehouse(self.database) as conn:
            rows = conn.query(
                f"SELECT shipment_id, fulfilment_method FROM {SHIPMENTS.name} WHERE retailer_id = ? "
                "AND detail_read_at IS NULL AND shipped_at >= ?",
                [self.retailer_id, datetime.now(UTC) - timedelta(days=93)],
            )
        return {str(key): str(method) for key, method in rows}


def coverage(conn: Warehouse, retailer_id: str) -> dict[str, Coverage]:
    """Per fulfilment method, the span the retailer's complete scans have read."""
    rows = conn.query(
        f"SELECT fulfilment_method, covered_from, covered_to FROM {SHIPMENT_SCANS} WHERE retailer_id = ?",
        [retailer_id],
    )
    return {str(method): Coverage(_utc(start), _utc(end)) for method, start, end in rows}


def oldest_day(params: Any) -> date | None:
    """The run parameter ``oldest_day`` as a date (None when not set); BolConfigError naming it when unreadable."""
    raw = (params or {}).get(OLDEST_DAY_PARAM)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise BolConfigError(
            f"run parameter {OLDEST_DAY_PARAM} must be a Dutch calendar day as YYYY-MM-DD, got {str(raw)[:40]!r}."
        ) from None


def extract(job: ExtractJob) -> Extracted:
    """Stage the run's shipments (see ``shipments.extract``); DAG parameter ``refresh_events`` re-reads the detail
    of recent shipments whose journey has not ended, ``oldest_day`` reads down to that day."""
    refresh_days = config.shipments_event_refresh_days()
    refresh = bool(job.params.get(REFRESH_EVENTS_PARAM, False)) and refresh_days > 0
    result = extract_shipments(
        job.hook,
        hook_fetch(job.hook),
        job.staging,
        WarehouseShipments(job.database, job.retailer_id),
        job.window,
        margin=timedelta(minutes=config.shipments_listing_margin_minutes()),
        oldest_day=oldest_day(job.params),
        refresh_since=job.now - timedelta(days=refresh_days) if refresh else None,
        personal_secret=job.personal_secret,
        reuse_from=job.earlier,
    )
    return Extracted(
        audit={
            "queries": result.queries(),
            "pages": result.list_calls,
            "records_listed": result.listed,
            "details_fetched": result.details_fetched + result.details_refreshed,
        },
        notes=_problems(result),
        complete=result.complete,
        info={SCANS: {scan.method: scan.info() for scan in result.scans}},
    )


def load(job: LoadJob) -> Loaded:
    """Merge the staged shipments, then store the customer data of an opted-in account."""
    scans = [MethodScanned.of(method, info) for method, info in (job.extracted.info.get(SCANS) or {}).items()]
    result = load_shipments(
        job.conn, job.retailer_id, job.staging, scans=scans, lineage=job.lineage, quarantine=job.quarantine
    )
    # Opted-in accounts only (the rows are staged for them alone): the orders' personal store, purged by bol_retention.
    store_personal_data(job.conn_id, job.retailer_id, job.staging, job.database, result.held_orders)
    return Loaded(
        tables={SHIPMENTS.name: result.shipments, SHIPMENT_ITEMS.name: result.items},
        held=len(result.held),
        notes=[note for note in (held_note(result.held),) if note],
    )


def estimate(job: PlanJob) -> CallEstimate:
    """The calls a backfill of ``job.first``..``job.last`` makes: none when the scanned span holds those days
    already; else one pass down both lists to the first day (a page per 50 shipments shipped since then: those the
    warehouse holds, and those of the days outside the span, at the span's rate a day) and a detail per shipment
    not held yet."""
    start = day_start(job.first)
    end = day_start(job.last + timedelta(days=1))
    spans = coverage(job.conn, job.retailer_id)
    if all(spans.get(method, Coverage()).holds(start, end) for method in FULFILMENT_METHODS):
        return CallEstimate({LIST_ENDPOINT: 0, DETAIL_ENDPOINT: 0}, "complete scans read these days already")
    pages = details = 0
    unknown = False
    for method in FULFILMENT_METHODS:
        span = spans.get(method, Coverage())
        held = job.conn.scalar(
            f"SELECT count(*) FROM {SHIPMENTS.name} WHERE retailer_id = ? AND fulfilment_method = ? "
            "AND shipped_at >= ?",
            [job.retailer_id, method, start],
        )
        per_day = _per_day(job.conn, job.retailer_id, method, span)
        gap_end = end if span.covered_from is None else min(end, span.covered_from)
        missing = round((per_day or 0.0) * max((gap_end - start).total_seconds() / 86400, 0.0))
        unknown = unknown or per_day is None
        pages += (int(held or 0) + missing) // PAGE_SIZE + 1
        details += missing
    note = (
        "one pass down the FBR and FBB lists to the first day (every later run of the backfill finds the span read "
        "and reads nothing) and one detail per shipment not held yet"
    )
    if unknown:
        note += "; no complete scan of this account yet, so the lists' length is unknown (one page each, no detail)"
    return CallEstimate({LIST_ENDPOINT: pages, DETAIL_ENDPOINT: details}, note)


def _per_day(conn: Warehouse, retailer_id: str, method: str, span: Coverage) -> float | None:
    """Shipments a day in the scanned span (None: no span)."""
    if span.covered_from is None or span.covered_to is None:
        return None
    count = conn.scalar(
        f"SELECT count(*) FROM {SHIPMENTS.name} WHERE retailer_id = ? AND fulfilment_method = ? "
        "AND shipped_at >= ? AND shipped_at < ?",
        [retailer_id, method, span.covered_from, span.covered_to],
    )
    days = max((span.covered_to - span.covered_from).total_seconds() / 86400, 1.0)
    return int(count or 0) / days


def _problems(result: ExtractResult) -> list[str]:
    problems = [
        f"{scan.method} scan not complete ({scan.describe()}): the window is not recorded as covered"
        for scan in result.scans
        if not scan.complete
    ]
    if result.not_found:
        problems.append(
            f"{len(result.not_found)} listed shipments answered 404 by id (landed from the list; asked again next "
            "run): " + ", ".join(sorted(result.not_found)[:20])
        )
    return problems


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = pd.Timestamp(value).to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
