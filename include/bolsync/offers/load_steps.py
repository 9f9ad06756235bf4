"""What the offers load and quality tasks run: one account's staged list into the warehouse, then its checks."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bolsync.offers.extracted import OffersExtracted
from bolsync.offers.load import OfferLoadCounts, load_offer_list, record_sync_state
from bolsync.offers.quality import check_offers_load
from bolsync.offers.spec import STREAM
from bolsync.offers.transform import OfferRows, parse_export_csv, parse_v11_offers
from bolsync.runs import assets, evidence, values
from bolsync.runs.audit import audited
from bolsync.runs.deletion_holds import ListRun, announce_hold, settle_holds
from bolsync.runs.quarantine import Quarantine, alert_new, held_note
from bolsync.runs.staging import clean_up_after_load, read_ndjson, reading_attempt
from bolsync.runs.tasks import label_task
from bolsync.warehouse.connection import connect_warehouse, warehouse_target
from bolsync.warehouse.lineage import Lineage
from bolsync_provider import stats

log = logging.getLogger(__name__)


def read_staged(extracted: OffersExtracted) -> OfferRows:
    """The list ``extracted`` staged, parsed as its source wrote it."""
    path = Path(str(extracted.staging_file))
    when = datetime.fromisoformat(extracted.extracted_at) if extracted.extracted_at else None
    not_after = values.latest_allowed(when) if when else None
    if extracted.source == "export":
        return parse_export_csv(path.read_text(encoding="utf-8"), not_after)
    return parse_v11_offers(read_ndjson(path), not_after)


def load_staged(context: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged offers, flag deletions (full sources), write the day's snapshot."""
    extracted = OffersExtracted.from_xcom(payload)
    label_task(context, extracted.conn_id)
    if extracted.skipped:
        log.warning("Nothing to load: %s", extracted.skipped)
        skipped = {"skipped": extracted.skipped[:200]}
        assets.emit(context, assets.offers_event_extras(None, **_event_args(context, extracted, skipped)))
        return payload
    retailer_id = str(extracted.retailer_id)
    staged = Path(str(extracted.staging_file))
    database = warehouse_target()
    dag_id = context["dag"].dag_id
    with (
        audited(context, database, extracted.audit(offers_listed=extracted.source_rows), None) as audit,
        reading_attempt(staged.parent, staged.name),
    ):
        rows = read_staged(extracted)
        confirmed = evidence.confirmed(context.get("params"))
        threshold = evidence.DeletionThreshold.configured()
        lineage = Lineage.of_run(context, extracted.extracted_at)
        window = extracted.window
        scope = {"conn_id": extracted.conn_id, "retailer_id": retailer_id}
        quarantine = Quarantine.of_run(STREAM, context, **scope, window_start=window.start, window_end=window.end)
        with connect_warehouse(database) as conn:
            with conn.transaction():
                counts = load_in_transaction(
                    conn, retailer_id, extracted, rows, confirmed, lineage, threshold, quarantine
                )
            audit.update(quarantined=len(rows.rejected), error=held_note(rows.rejected))
            alert_new(conn, STREAM, extracted.conn_id, context)
            changes = {"inserted": counts.inserted, "updated": counts.updated, "flagged_deleted": counts.deleted}
            changes["deletions_held"] = counts.held
            assets.emit(context, assets.offers_event_extras(conn, **_event_args(context, extracted, changes)))
        audit.update(
            offers_inserted=counts.inserted,
            offers_updated=counts.updated,
            offers_deleted=counts.deleted,
            deletions_held=counts.held,
        )
        if counts.check is not None and counts.check.held:
            run = _list_run(extracted, lineage)
            notes = [audit.get("error"), announce_hold(context, counts.check, run, evidence.in_a_run(dag_id))]
            audit["error"] = "; ".join(note for note in notes if note)
        stats.rows_landed(extracted.conn_id, "offer_snapshots", "inserted", counts.snapshots)
    log.info(
        "Offers of retailer %s (%s%s): +%d new, %d changed, %d flagged deleted, %d deletions held; snapshot %s has "
        "%d offers.",
        retailer_id,
        extracted.source,
        ", full" if extracted.full else ", incremental",
        counts.inserted,
        counts.updated,
        counts.deleted,
        counts.held,
        extracted.snapshot_date,
        counts.snapshots,
    )
    return {
        **payload,
        "offers_inserted": counts.inserted,
        "offers_updated": counts.updated,
        "offers_deleted": counts.deleted,
        "deletions_held": counts.held,
        "snapshots": counts.snapshots,
    }


def load_in_transaction(
    conn: Any,
    retailer_id: str,
    extracted: OffersExtracted,
    rows: OfferRows,
    confirmed: bool,
    lineage: Lineage,
    threshold: evidence.DeletionThreshold | None = None,
    quarantine: Quarantine | None = None,
) -> OfferLoadCounts:
    """The offers, the day's snapshot, the sync state and the deletion holds, in the caller's transaction (a
    full list whose deletions are held changes no offer it does not name: ``offers.load``).

    Offers the transform refused are held in ``quarantine`` (and never flagged deleted: they were listed); a
    full list with a line that names no usable offer id cannot tell which offers are gone, so it flags none and
    counts as no full sweep."""
    listing = extracted.listing
    if listing.full and not rows.keys_complete:
        log.warning("A line of the full offer list names no usable offer id: no offer is flagged deleted this time.")
        listing = replace(listing, full=False)
    held = {record.key for record in rows.rejected if record.keyed}
    counts = load_offer_list(
        conn, retailer_id, rows, listing, confirmed=confirmed, threshold=threshold, lineage=lineage, held=held
    )
    applied_in_full = counts.check is not None and not counts.check.held
    record_sync_state(conn, retailer_id, source=listing.source, seen_at=listing.seen_at, full=applied_in_full)
    if counts.check is not None:
        settle_holds(conn, counts.check, _list_run(extracted, lineage))
    if quarantine is not None:
        quarantine.settle(conn, rows.rejected, rows.frame["offer_id"])
    return counts


def _list_run(extracted: OffersExtracted, lineage: Lineage) -> ListRun:
    return ListRun(
        conn_id=extracted.conn_id,
        retailer_id=str(extracted.retailer_id),
        dag_id=lineage.dag_id,
        run_id=lineage.run_id,
        listed_at=extracted.listing.listed_at,
    )


def _event_args(context: Any, extracted: OffersExtracted, counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "conn_id": extracted.conn_id,
        "retailer_id": str(extracted.retailer_id),
        "run_id": context["run_id"],
        "counts": counts,
    }


def check_loaded(context: Any, loaded: dict[str, Any]) -> dict[str, Any]:
    """After the load: every source offer live and loaded once, keys unique and not null (``offers.quality``)."""
    extracted = OffersExtracted.from_xcom(loaded)
    label_task(context, extracted.conn_id)
    if extracted.skipped:
        log.warning("Nothing to check: %s", extracted.skipped)
        return {"conn_id": extracted.conn_id, "skipped": extracted.skipped}
    rows = read_staged(extracted)
    held = {record.key for record in rows.rejected}  # in the quarantine, not loaded
    offer_ids = [str(v) for v in rows.frame["offer_id"] if v not in held]
    with connect_warehouse(warehouse_target()) as conn:
        check_offers_load(
            conn,
            conn_id=extracted.conn_id,
            retailer_id=str(extracted.retailer_id),
            offer_ids=offer_ids,
            listed_at=extracted.listing.listed_at,
        )
    log.info("Offer data-quality checks passed: %d offers, keys unique and not null.", extracted.source_rows)
    clean_up_after_load(Path(str(extracted.staging_file)).parent)
    summary = ("conn_id", "retailer_id", "source", "full", "source_rows", "offers_inserted", "offers_updated")
    return {k: loaded.get(k) for k in (*summary, "offers_deleted", "deletions_held", "snapshots")}
