"""The returns stream's own extract, load and planner estimate, run by the generic stream tasks (``streams.tasks``).

Extract: the four list scans and the details they call for (``returns.extract``), the stop bound read from the
warehouse. Load: one transaction (``returns.load``), bad returns held in the quarantine, the customer data of
opted-in accounts to the personal store. A run whose scan was not complete lands what it read but does not
record its window as covered; the next run then reads from the last complete scan's bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pandas as pd

from bolsync.personal.tasks import store_return_customers
from bolsync.returns.extract import PERSONAL_FILE, ExtractResult, ScanState, extract_returns
from bolsync.returns.load import MethodScanned, load_returns
from bolsync.returns.paging import hook_fetch
from bolsync.returns.spec import (
    DETAIL_ENDPOINT,
    FULFILMENT_METHODS,
    FULL_SCAN_PARAM,
    LIST_ENDPOINT,
    PAGE_SIZE,
    RETURN_ITEM_STATES,
    RETURN_PROCESSING_RESULTS,
    RETURN_SCANS,
    RETURNS,
)
from bolsync.runs import config
from bolsync.runs.quarantine import held_note
from bolsync.runs.staging import read_ndjson
from bolsync.runs.windows import AMSTERDAM
from bolsync.streams.spec import CallEstimate, Extracted, ExtractJob, Loaded, LoadJob, PlanJob
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse

#: ``Extracted.info`` keys.
SCANS = "scans"
NOT_FOUND = "not_found"


class WarehouseReturns:
    """What the extract asks the warehouse about one retailer's returns (``extract.KnownReturns``)."""

    def __init__(self, database: WarehouseTarget, retailer_id: str) -> None:
        self.database = database
        self.retailer_id = retailer_id

    def scans(self) -> dict[str, ScanState]:
        with connect_warehouse(self.database) as conn:
            return scan_states(conn, self.retailer_id)

    def open_returns(self) -> dict[str, set[str]]:
        with connect_warehouse(self.database) as conn:
            rows = conn.query(
                f"SELECT fulfilment_method, return_id FROM {RETURNS.name} WHERE retailer_id = ? AND NOT handled "
                "AND not_found_at IS NULL",
                [self.retailer_id],
            )
        found: dict[str, set[str]] = {}
        for method, key in rows:
            found.setdefault(str(method), set()).add(str(key))
        return found

    def fingerprints(self, return_ids: Iterable[str]) -> dict[str, str]:
        wanted = pd.DataFrame({"return_id": sorted(set(return_ids))}, dtype="string")
        if wanted.empty:
            return {}
        with connect_warehouse(self.database) as conn, conn.staged(wanted, RETURNS.name) as keys:
            rows = conn.query(
                f"SELECT r.return_id, r.state_fingerprint FROM {RETURNS.name} r JOIN {keys} k "
                "ON k.return_id = r.return_id WHERE r.retailer_id = ?",
                [self.retailer_id],
            )
        return {str(key): str(digest) for key, digest in rows}

    def handled_ahead(self, method: str, return_ids: Iterable[str]) -> dict[str, tuple[datetime, int]]:
        wanted = pd.DataFrame({"return_id": sorted(set(return_ids))}, dtype="string")
        if wanted.empty:
            return {}
        with connect_warehouse(self.database) as conn, conn.staged(wanted, RETURNS.name) as keys:
            rows = conn.query(
                f"""SELECT return_id, registered_at, ahead FROM (
                        SELECT r.return_id, r.registered_at, r.handled, count(CASE WHEN r.handled THEN 1 END) OVER (
                            ORDER BY r.registered_at DESC, r.return_id DESC
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ahead
                        FROM {RETURNS.name} r
                        WHERE r.retailer_id = ? AND r.fulfilment_method = ?
                          AND (r.handled OR r.return_id IN (SELECT return_id FROM {keys}))) AS ranked
                    WHERE return_id IN (SELECT return_id FROM {keys})""",
                [self.retailer_id, method],
            )
        return {str(key): (_utc(moment) or datetime.min.replace(tzinfo=UTC), int(ahead)) for key, moment, ahead in rows}


def scan_states(conn: Warehouse, retailer_id: str) -> dict[str, ScanState]:
    """Per fulfilment method, the retailer's last complete scans."""
    rows = conn.query(
        f"SELECT fulfilment_method, last_scan_started_at, last_full_scan_started_at FROM {RETURN_SCANS} "
        "WHERE retailer_id = ?",
        [retailer_id],
    )
    return {str(method): ScanState(_utc(started), _utc(full)) for method, started, full in rows}


def extract(job: ExtractJob) -> Extracted:
    """Stage the run's returns (see ``returns.extract``); DAG parameter ``full_scan`` reads the handled lists to
    their end."""
    result = extract_returns(
        job.hook,
        hook_fetch(job.hook, lambda: datetime.now(UTC)),
        job.staging,
        WarehouseReturns(job.database, job.retailer_id),
        job.window,
        full=bool(job.params.get(FULL_SCAN_PARAM, False)),
        reuse_from=job.earlier,
        personal_secret=job.personal_secret,
        margin=timedelta(minutes=config.returns_registration_margin_minutes()),
    )
    return Extracted(
        audit={
            "queries": result.queries(),
            "pages": result.list_calls,
            "records_listed": result.returns_listed,
            "details_fetched": result.details_fetched,
        },
        notes=_problems(result),
        complete=result.complete,
        info={SCANS: {scan.method: scan.info() for scan in result.scans}, NOT_FOUND: result.not_found},
    )


def load(job: LoadJob) -> Loaded:
    """Merge the staged returns, then store the customer data of an opted-in account."""
    scans = [MethodScanned.of(method, info) for method, info in (job.extracted.info.get(SCANS) or {}).items()]
    result = load_returns(
        job.conn,
        job.retailer_id,
        job.staging,
        scans=scans,
        not_found=job.extracted.info.get(NOT_FOUND) or {},
        lineage=job.lineage,
        quarantine=job.quarantine,
    )
    personal = job.staging / PERSONAL_FILE
    if personal.exists():
        # Opted-in accounts only: customer details and comments go to the personal store (bol_retention purges them).
        store_return_customers(job.conn_id, job.retailer_id, list(read_ndjson(personal)), job.database, result.held_ids)
    return Loaded(
        tables={
            RETURNS.name: result.returns,
            RETURN_ITEM_STATES.name: result.items,
            RETURN_PROCESSING_RESULTS.name: result.results,
        },
        held=len(result.held),
        notes=[note for note in (held_note(result.held),) if note],
    )


def estimate(job: PlanJob) -> CallEstimate:
    """The calls a backfill of ``job.first``..``job.last`` makes: none when a complete full scan started after
    the last day already; else one full scan (the first run; every later run of the backfill finds it), sized by
    what the warehouse holds of the account's returns."""
    end = datetime.combine(job.last + timedelta(days=1), time(0), AMSTERDAM)
    scans = scan_states(job.conn, job.retailer_id)
    full = [scans.get(method, ScanState()).full_started_at for method in FULFILMENT_METHODS]
    if all(start is not None and start >= end for start in full):
        return CallEstimate(
            {LIST_ENDPOINT: 0, DETAIL_ENDPOINT: 0}, "a complete full scan after these days observed them already"
        )
    counts = {
        (str(method), bool(handled)): int(count)
        for method, handled, count in job.conn.query(
            f"SELECT fulfilment_method, handled, count(*) FROM {RETURNS.name} WHERE retailer_id = ? "
            "GROUP BY fulfilment_method, handled",
            [job.retailer_id],
        )
    }
    pages = rereads = 0
    for method in FULFILMENT_METHODS:
        unhandled = counts.get((method, False), 0) // PAGE_SIZE + 1
        pages += unhandled + counts.get((method, True), 0) // PAGE_SIZE + 1
        rereads += unhandled - 1
    details = sum(count for (_, handled), count in counts.items() if not handled)
    note = (
        "one full scan (every later run of the backfill finds it and reads nothing): the four lists to their end "
        "by the returns the warehouse holds, page boundaries of the unhandled lists checked once, and at most one "
        "detail per return stored as open"
    )
    if not counts:
        note += "; no returns of this account in the warehouse yet, so the lists' length is unknown (one page each)"
    return CallEstimate({LIST_ENDPOINT: pages + rereads, DETAIL_ENDPOINT: details}, note)


def _problems(result: ExtractResult) -> list[str]:
    problems = []
    for scan in result.scans:
        if not scan.complete:
            problems.append(
                f"{scan.method} scan not complete ({scan.unhandled.describe()}; {scan.handled.describe()}): the window "
                "is not recorded as covered, and the next run reads from the last complete scan's bound"
            )
    if result.not_found:
        problems.append(
            f"{len(result.not_found)} returns answered 404 by id: " + ", ".join(sorted(result.not_found)[:20])
        )
    return problems


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = pd.Timestamp(value).to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
