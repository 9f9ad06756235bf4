"""The Airflow tasks of the offers DAG: extract (deferrable export wait, or v11 pages), load, quality check."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from bolsync.archive.tasks import archive_responses
from bolsync.offers import extract as ex
from bolsync.offers.listing import OfferList
from bolsync.offers.load import OfferLoadCounts, load_offer_list, record_sync_state, sync_state
from bolsync.offers.quality import check_offers_load
from bolsync.offers.spec import STREAM
from bolsync.offers.transform import OfferRows, parse_export_csv, parse_v11_offers
from bolsync.runs import assets, config, evidence, values
from bolsync.runs.audit import audited
from bolsync.runs.defaults import WAREHOUSE_POOL
from bolsync.runs.deletion_holds import ListRun, announce_hold, settle_holds
from bolsync.runs.payload import Payload
from bolsync.runs.quarantine import Quarantine, alert_new, held_note
from bolsync.runs.staging import (
    clean_up_after_load,
    new_attempt,
    read_ndjson,
    reading_attempt,
    staging_dir,
    staging_root,
)
from bolsync.runs.sync_hook import SyncHook
from bolsync.runs.tasks import label_task
from bolsync.runs.waiting import ResumeWith
from bolsync.runs.windows import SyncWindow, run_window
from bolsync.warehouse.connection import connect_warehouse, warehouse_target
from bolsync.warehouse.lineage import Lineage
from bolsync_provider import stats
from bolsync_provider.errors import BolConfigError, BolError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.triggers.offer_export import SUCCESS, OfferExportTrigger, first_event

log = logging.getLogger(__name__)


class OfferExportFailed(BolError):
    """bol ended the export with FAILURE/TIMEOUT, or its status expired: an Airflow retry asks for a new one."""


@dataclass(frozen=True)
class OffersExtracted(Payload):
    """What an offers extract hands its load (``skipped``: why a past run changes nothing)."""

    conn_id: str
    window_start: str
    window_end: str
    snapshot_date: str
    retailer_id: str | None = None
    source: str | None = None
    full: bool = False
    staging_file: str | None = None
    source_rows: int = 0
    skipped: str | None = None
    api: dict[str, float] = field(default_factory=dict)
    #: When the extract pulled the offers from the API (ISO 8601): the rows' lineage.
    extracted_at: str | None = None
    #: When bol's list was taken (ISO 8601; the export's request, the v11 list's first page): see
    #: ``offers.listing``.
    listed_at: str | None = None

    @classmethod
    def for_window(cls, conn_id: str, window: SyncWindow) -> OffersExtracted:
        return cls(
            conn_id, window.start.isoformat(), window.end.isoformat(), ex.snapshot_date(window.start).isoformat()
        )

    @property
    def window(self) -> SyncWindow:
        return SyncWindow(datetime.fromisoformat(self.window_start), datetime.fromisoformat(self.window_end))

    @property
    def seen_at(self) -> datetime:
        """The run's data interval end, not the wall clock: rerunning a day writes the same rows."""
        return datetime.fromisoformat(self.window_end)

    @property
    def listing(self) -> OfferList:
        """The staged list, placed in time (a payload without ``listed_at``: its extract time)."""
        listed_at = self.listed_at or self.extracted_at
        return OfferList(
            source=str(self.source),
            full=self.full,
            seen_at=self.seen_at,
            listed_at=datetime.fromisoformat(listed_at) if listed_at else self.seen_at,
            snapshot_date=datetime.fromisoformat(self.snapshot_date).date(),
        )

    def audit(self, **more: Any) -> dict[str, Any]:
        window = self.window
        return {"conn_id": self.conn_id, "retailer_id": self.retailer_id, "window_start": window.start,
                "window_end": window.end, **more}  # fmt: skip


class OffersExtractOperator(BaseOperator):
    """Fetch one account's offers: the v10 export (defers while bol prepares the file) or the v11 list.

    ``deferrable=False`` polls in the worker instead (for setups without a triggerer).
    """

    template_fields = ("conn_id",)

    def __init__(
        self,
        *,
        conn_id: str,
        poll_interval: float = config.DEFAULT_OFFERS_POLL_SECONDS,
        max_poll_interval: float = 60.0,
        export_timeout: timedelta = timedelta(hours=3),
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.export_timeout = export_timeout
        self.deferrable = deferrable

    def execute(self, context: Any) -> dict[str, Any]:
        label_task(context, self.conn_id)
        base = OffersExtracted.for_window(self.conn_id, run_window(context))
        reason = ex.past_run_message(base.seen_at, datetime.now(UTC))
        if reason:
            log.warning("%s", reason)
            return replace(base, skipped=reason).to_xcom()
        params = context.get("params") or {}
        try:
            source = config.offers_source(params)
            poll = config.offers_poll_seconds(self.poll_interval)
        except BolConfigError as error:
            raise AirflowFailException(str(error)) from error
        hook = SyncHook(self.conn_id)
        if source == "v11":
            return self._extract_v11(context, hook, base, bool(params.get("full_sweep"))).to_xcom()
        trigger = self._request_export(context, hook, base, poll)
        if not self.deferrable:
            event = asyncio.run(first_event(trigger))
            return self.execute_complete(context, event.payload if event else None)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=self.export_timeout + timedelta(minutes=10))
        raise AssertionError("unreachable: defer raises")

    def _request_export(
        self, context: Any, hook: BolRetailerHook, base: OffersExtracted, poll: float
    ) -> OfferExportTrigger:
        """Ask bol for the export; the trigger that waits for it carries what the resumed task needs."""
        audit = base.audit()
        with audited(context, warehouse_target(), audit, hook):
            audit["retailer_id"] = hook.get_retailer_id()
            listed_at = datetime.now(UTC)  # bol's file shows the offers of a moment after this
            process = hook.request_offer_export()
            audit["queries"] = f"offer export, process status {process['processStatusId']}"
        carry = replace(
            base,
            retailer_id=audit["retailer_id"],
            source="export",
            full=True,
            api=hook.metrics.as_dict(),
            listed_at=listed_at.isoformat(),
        )
        log.info("bol is preparing the offer export %s; deferring until it is ready.", process["processStatusId"])
        return OfferExportTrigger(
            self.conn_id,
            str(process["processStatusId"]),
            poll_interval=poll,
            max_poll_interval=self.max_poll_interval,
            timeout_seconds=self.export_timeout.total_seconds(),
            carry=carry.to_xcom(),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed after the trigger fired: download the file on SUCCESS, fail clearly otherwise."""
        if not event or "carry" not in event:
            raise AirflowFailException(f"the offer export wait ended without an event ({event!r}).")
        extracted = OffersExtracted.from_xcom(event["carry"])
        label_task(context, extracted.conn_id)
        hook = SyncHook(extracted.conn_id)
        hook.metrics.add(**extracted.api)
        audit = extracted.audit(queries=f"offer export, process status {event.get('process_status_id')}")
        resume = ResumeWith("execute_complete", event)
        with (
            audited(context, warehouse_target(), audit, hook, resume=resume),
            _attempt(context, extracted.conn_id) as folder,
        ):
            if event.get("status") != SUCCESS:
                raise OfferExportFailed(event.get("message") or f"offer export ended with {event.get('status')}")
            extracted_at = datetime.now(UTC)
            anchor = warehouse_target().staging_anchor
            listed_at = extracted.listing.listed_at
            with archive_responses(
                hook, context, extracted.window, extracted_at, anchor, personal=False, listed_at=listed_at
            ):
                text = hook.download_offer_export(str(event["report_id"]))
            path = folder / ex.EXPORT_FILE
            ex.write_export(path, text)
            rows = parse_export_csv(text).source_rows  # malformed files fail here, before anything is loaded
            audit.update(offers_listed=rows, pages=1)
        log.info("Offer export %s: %d offers staged in %s.", event["report_id"], rows, path)
        done = replace(extracted, staging_file=str(path), source_rows=rows, extracted_at=extracted_at.isoformat())
        return replace(done, api=hook.metrics.as_dict()).to_xcom()

    def _extract_v11(
        self, context: Any, hook: BolRetailerHook, base: OffersExtracted, force_full: bool
    ) -> OffersExtracted:
        database = warehouse_target()
        audit = base.audit()
        with audited(context, database, audit, hook), _attempt(context, self.conn_id) as folder:
            retailer_id = audit["retailer_id"] = hook.get_retailer_id()
            with connect_warehouse(database) as conn:
                state = sync_state(conn, retailer_id)
            plan = ex.plan_v11(state, base.seen_at, force_full)
            log.info("v11 offers of retailer %s: %s.", retailer_id, plan.reason)
            path = folder / ex.V11_FILE
            extracted_at = datetime.now(UTC)
            with archive_responses(
                hook,
                context,
                base.window,
                extracted_at,
                database.staging_anchor,
                personal=False,
                listed_at=extracted_at,
            ):
                rows, pages = ex.stage_v11(hook, path, plan.modified_since)
            audit.update(queries=f"v11 {plan.reason}", pages=pages, offers_listed=rows)
        return replace(
            base,
            retailer_id=retailer_id,
            source="v11",
            full=plan.full,
            staging_file=str(path),
            source_rows=rows,
            api=hook.metrics.as_dict(),
            extracted_at=extracted_at.isoformat(),
            listed_at=extracted_at.isoformat(),
        )


def _attempt(context: Any, conn_id: str) -> Any:
    """This try's own staging folder (see ``runs.staging``)."""
    run_dir = staging_dir(
        staging_root(warehouse_target().staging_anchor), context["dag"].dag_id, context["run_id"], conn_id
    )
    return new_attempt(run_dir, context["ti"].try_number)


def read_staged(extracted: OffersExtracted) -> OfferRows:
    path = Path(str(extracted.staging_file))
    when = datetime.fromisoformat(extracted.extracted_at) if extracted.extracted_at else None
    not_after = values.latest_allowed(when) if when else None
    if extracted.source == "export":
        return parse_export_csv(path.read_text(encoding="utf-8"), not_after)
    return parse_v11_offers(read_ndjson(path), not_after)


@task(
    task_id="load",
    pool=WAREHOUSE_POOL,
    map_index_template="{{ account_label }}",
    outlets=assets.OFFERS_LOAD_OUTLETS,
)
def load_offers(payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged offers, flag deletions (full sources), write the day's snapshot."""
    extracted = OffersExtracted.from_xcom(payload)
    context = get_current_context()
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
                counts = _load(conn, retailer_id, extracted, rows, confirmed, lineage, threshold, quarantine)
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


def _load(
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


@task(pool=WAREHOUSE_POOL, map_index_template="{{ account_label }}")
def check_quality(loaded: dict[str, Any]) -> dict[str, Any]:
    """After the load: every source offer live and loaded once, keys unique and not null (``offers.quality``)."""
    extracted = OffersExtracted.from_xcom(loaded)
    context = get_current_context()
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
