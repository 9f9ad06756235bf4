"""What an offers run fetches, and staging of what bol sent (no warehouse writes here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bolsync.offers.load import OfferSyncState
from bolsync.runs.staging import NdjsonWriter, write_private_text
from bolsync.runs.windows import AMSTERDAM
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)

EXPORT_FILE = "offers_export.csv"
V11_FILE = "offers_v11.ndjson"
#: bol keeps no offer history: a run whose window ended longer ago than this can only see today's offers.
HISTORY_LIMIT = timedelta(days=1)
#: v11 runs are incremental (last-modified-date-time) with a full sweep at least this often (deletions).
FULL_SWEEP_EVERY = timedelta(days=7)


def past_run_message(window_end: datetime, now: datetime) -> str | None:
    """Why a run changes nothing (a backfill or a rerun of a past day), or None for a current run."""
    if now - window_end <= HISTORY_LIMIT:
        return None
    return (
        f"bol keeps no offer history: the API only serves the offers as they are now, so this run for the "
        f"window ending {window_end.isoformat()} (more than {HISTORY_LIMIT} ago) cannot reconstruct that day's "
        "offers and changes nothing. Offer history is what the nightly runs store in bol.offer_snapshots."
    )


def snapshot_date(window_start: datetime) -> date:
    """A run's snapshot is dated with the Dutch calendar day its window covers (the nightly run: yesterday)."""
    return window_start.astimezone(AMSTERDAM).date()


@dataclass(frozen=True)
class V11Plan:
    full: bool
    modified_since: str | None
    reason: str


def plan_v11(state: OfferSyncState, seen_at: datetime, force_full: bool) -> V11Plan:
    """Incremental from the newest stored modification, or a full sweep (first run, weekly, or asked for)."""
    if force_full:
        return V11Plan(True, None, "full sweep requested (param full_sweep)")
    if state.last_full_sweep_at is None or state.watermark is None:
        return V11Plan(True, None, "full sweep: no earlier sweep for this retailer")
    if seen_at - state.last_full_sweep_at >= FULL_SWEEP_EVERY:
        return V11Plan(True, None, f"full sweep: the last one was at {state.last_full_sweep_at.isoformat()}")
    since = state.watermark.isoformat().replace("+00:00", "Z")
    return V11Plan(False, since, f"incremental: offers modified since {since}")


def stage_v11(hook: BolRetailerHook, path: Path, modified_since: str | None) -> tuple[int, int]:
    """Stream the v11 pages to NDJSON; returns (offers, pages)."""
    offers = pages = 0
    with NdjsonWriter(path, append=False) as writer:
        for page in hook.iter_offers_v11(modified_since=modified_since):
            pages += 1
            for offer in page:
                writer.write(offer)
                offers += 1
    return offers, pages


def write_export(path: Path, text: str) -> None:
    """The export file in its attempt folder, owner-only like every staged file; complete or not there."""
    tmp = path.with_name(path.name + ".part")
    write_private_text(tmp, text)
    tmp.replace(path)
