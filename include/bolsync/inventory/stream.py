"""The inventory stream's own extract, load and estimate, run by the generic stream tasks (``streams.tasks``).

A run takes the snapshot of the Dutch day it runs on. bol lists the stock as it is now, so a backfill or a rerun
of a run whose window ended more than a day ago changes nothing and says so (it covers nothing); a rerun of
today's is idempotent. The audit and coverage rows of a run name its snapshot's day: covered means a complete
list of the FBB stock was read that day. A list whose deletions are held (``runs.evidence``) is loaded
but does not cover its day until a run confirms the deletions or a complete list follows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from bolsync.inventory.extract import (
    LIST_FILE,
    MAX_LOOKUPS,
    list_calls,
    past_run_message,
    snapshot_day,
    stage_inventory,
)
from bolsync.inventory.load import load_inventory_list
from bolsync.inventory.spec import INVENTORY, INVENTORY_ENDPOINT, INVENTORY_SNAPSHOTS
from bolsync.inventory.transform import inventory_rows
from bolsync.runs import evidence
from bolsync.runs.deletion_holds import ListRun, announce_hold, settle_holds
from bolsync.runs.quarantine import held_note
from bolsync.runs.staging import read_ndjson
from bolsync.runs.windows import AMSTERDAM
from bolsync.streams.spec import CallEstimate, Extracted, ExtractJob, Loaded, LoadJob, PlanJob
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import connect_warehouse

#: ``Extracted.info`` keys.
DAY = "snapshot_date"
LISTED_AT = "listed_at"
SKIPPED = "skipped"


def extract(job: ExtractJob) -> Extracted:
    """Stage today's list (and the lookups of the EANs it no longer names), or nothing for a past run."""
    day = snapshot_day(job.now)
    skipped = past_run_message(job.window.end, job.now)
    if skipped:
        return Extracted(notes=[skipped], complete=False, info={SKIPPED: skipped})
    with connect_warehouse(job.database) as conn:
        before = listed_eans(conn, job.retailer_id)
    result = stage_inventory(job.hook, job.staging, before)
    notes = []
    if result.found:
        notes.append(
            f"the list skipped {len(result.found)} EANs bol still lists (its pages shifted while they were read); "
            f"found one by one: {', '.join(result.found[:20])}"
        )
    if result.not_looked_up:
        notes.append(
            f"{result.not_looked_up} EANs the warehouse holds as listed are not in the list (more than {MAX_LOOKUPS}, "
            "so not looked up one by one)"
        )
    return Extracted(
        audit={
            **day_window(day),
            "queries": "every EAN, REGULAR and GRADED stock (no filter)",
            "pages": result.pages,
            "records_listed": result.entries,
            "details_fetched": len(result.looked_up),
        },
        notes=notes,
        info={DAY: day.isoformat(), LISTED_AT: job.now.isoformat()},
    )


def load(job: LoadJob) -> Loaded:
    """Load the day's list and snapshot, settle its deletion hold and quarantine in one transaction; announce a
    held mass deletion."""
    info = job.extracted.info
    if info.get(SKIPPED):
        return Loaded(notes=[str(info[SKIPPED])], complete=False)
    day = date.fromisoformat(str(info[DAY]))
    rows = inventory_rows(read_ndjson(job.staging / LIST_FILE))
    run = ListRun(job.conn_id, job.retailer_id, job.lineage.dag_id, job.lineage.run_id, _time(info[LISTED_AT]))
    with job.conn.transaction():
        result = load_inventory_list(
            job.conn,
            job.retailer_id,
            rows,
            day,
            confirmed=evidence.confirmed(job.params),
            threshold=evidence.DeletionThreshold.configured(),
            lineage=job.lineage,
        )
        if result.check is not None:
            settle_holds(job.conn, result.check, run)
        window = day_window(day)
        quarantine = replace(job.quarantine, window_start=window["window_start"], window_end=window["window_end"])
        quarantine.settle(job.conn, rows.rejected, rows.frame["ean"])
    notes = [held_note(rows.rejected)]
    if result.check is None:
        notes.append("an entry of the list names no usable EAN, so no EAN was marked no longer listed this time")
    elif result.check.held:
        notes.append(announce_hold(job.context, result.check, run, evidence.in_a_run(job.lineage.dag_id)))
    return Loaded(
        tables={INVENTORY.name: result.inventory, INVENTORY_SNAPSHOTS.name: result.snapshots},
        held=len(rows.rejected),
        audit={**day_window(day), "records_listed": rows.listed, "deletions_held": result.held},
        notes=[note for note in notes if note],
        complete=not result.held,
    )


def estimate(job: PlanJob) -> CallEstimate:
    """The calls of a run per day of ``job``: a list read today (its pages, from the EANs the warehouse holds);
    nothing for a past day, which bol cannot serve."""
    today = job.now.astimezone(AMSTERDAM).date()
    if not job.first <= today <= job.last:
        return CallEstimate(
            {INVENTORY_ENDPOINT.label: 0},
            "bol keeps no stock history: a run for a past day reads nothing and changes nothing",
        )
    eans = listed_eans(job.conn, job.retailer_id)
    return CallEstimate(
        {INVENTORY_ENDPOINT.label: list_calls(len(eans))},
        f"today's list of about {len(eans)} EANs: {INVENTORY_ENDPOINT.page_size} a page and the empty page that "
        "ends it; past days read nothing (bol keeps no stock history)",
    )


def listed_eans(conn: Warehouse, retailer_id: str) -> set[str]:
    """The EANs the warehouse holds as listed by bol for the retailer."""
    rows = conn.query(f"SELECT ean FROM {INVENTORY.name} WHERE retailer_id = ? AND listed", [retailer_id])
    return {str(ean) for (ean,) in rows}


def day_window(day: date) -> dict[str, datetime]:
    """The Dutch day as the audit row's and the coverage row's window."""
    return {
        "window_start": datetime.combine(day, time(), AMSTERDAM),
        "window_end": datetime.combine(day + timedelta(days=1), time(), AMSTERDAM),
    }


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
