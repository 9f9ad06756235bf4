"""What the offers extract operator runs: the v10 export (requested, then downloaded once the trigger saw it
ready) or the v11 list, staged in this try's folder."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bolsync.archive.tasks import archive_responses
from bolsync.offers import extract as ex
from bolsync.offers.extracted import OffersExtracted
from bolsync.offers.load import sync_state
from bolsync.offers.transform import parse_export_csv
from bolsync.runs import config
from bolsync.runs.audit import audited
from bolsync.runs.staging import new_attempt, staging_dir, staging_root
from bolsync.runs.sync_hook import SyncHook
from bolsync.runs.tasks import label_task
from bolsync.runs.waiting import ResumeWith
from bolsync.runs.windows import run_window
from bolsync.warehouse.connection import connect_warehouse, warehouse_target
from bolsync_provider.errors import BolConfigError, BolError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.triggers.offer_export import SUCCESS, OfferExportTrigger, first_event

log = logging.getLogger(__name__)


class OfferExportFailed(BolError):
    """bol ended the export with FAILURE/TIMEOUT, or its status expired: an Airflow retry asks for a new one."""


def start_extract(
    context: Any, conn_id: str, *, poll_interval: float, max_poll_interval: float, export_timeout: timedelta
) -> dict[str, Any] | OfferExportTrigger:
    """The extract's payload (a past run, the v11 list), or the trigger that waits for the export bol prepares."""
    label_task(context, conn_id)
    base = OffersExtracted.for_window(conn_id, run_window(context))
    reason = ex.past_run_message(base.seen_at, datetime.now(UTC))
    if reason:
        log.warning("%s", reason)
        return replace(base, skipped=reason).to_xcom()
    params = context.get("params") or {}
    try:
        source = config.offers_source(params)
        poll = config.offers_poll_seconds(poll_interval)
    except BolConfigError as error:
        raise AirflowFailException(str(error)) from error
    hook = SyncHook(conn_id)
    if source == "v11":
        return _extract_v11(context, hook, base, bool(params.get("full_sweep"))).to_xcom()
    return _request_export(context, hook, base, poll, max_poll_interval, export_timeout)


def wait_in_worker(trigger: OfferExportTrigger) -> dict[str, Any] | None:
    """Poll the export in this process (no triggerer); the event the trigger would have fired."""
    event = asyncio.run(first_event(trigger))
    return event.payload if event else None


def _request_export(
    context: Any,
    hook: BolRetailerHook,
    base: OffersExtracted,
    poll: float,
    max_poll_interval: float,
    export_timeout: timedelta,
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
        base.conn_id,
        str(process["processStatusId"]),
        poll_interval=poll,
        max_poll_interval=max_poll_interval,
        timeout_seconds=export_timeout.total_seconds(),
        carry=carry.to_xcom(),
    )


def finish_export(context: Any, event: dict[str, Any] | None) -> dict[str, Any]:
    """After the trigger fired: download the file on SUCCESS, fail clearly otherwise."""
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


def _extract_v11(context: Any, hook: BolRetailerHook, base: OffersExtracted, force_full: bool) -> OffersExtracted:
    database = warehouse_target()
    audit = base.audit()
    with audited(context, database, audit, hook), _attempt(context, base.conn_id) as folder:
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
