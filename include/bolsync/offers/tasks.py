"""The Airflow tasks of the offers DAG: extract (deferrable export wait, or v11 pages), load, quality check."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from bolsync import assets
from bolsync.audit import audited
from bolsync.offers import extract as ex
from bolsync.offers.store import (
    quality_problems,
    record_sync_state,
    sync_state,
    upsert_offers,
    write_snapshots,
)
from bolsync.offers.transform import OfferRows, latest_per_offer, parse_export_csv, parse_v11_offers
from bolsync.offers.trigger import SUCCESS, OfferExportTrigger, first_event
from bolsync.offers.warehouse_seam import connect_warehouse, staging_anchor, warehouse_location
from bolsync.orders.staging import read_ndjson, remove, staging_dir, staging_root
from bolsync_provider.exceptions import BolConfigError, BolError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)

API_POOL = "bol_api"
WAREHOUSE_POOL = "bol_warehouse"
#: Seconds before the first process-status poll (then doubling to max_poll_interval); default 5.
POLL_VARIABLE = "bolsync_offers_poll_seconds"


class OfferExportFailed(BolError):
    """bol ended the export with FAILURE/TIMEOUT, or its status expired: an Airflow retry asks for a new one."""


def _window(context: Any) -> tuple[datetime, datetime]:
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or end <= start:
        raise AirflowFailException(
            "This DAG needs a [start, end) data interval; use its schedule or trigger with a logical date."
        )
    return start, end


class OffersExtractOperator(BaseOperator):
    """Fetch one account's offers: the v10 export (defers while bol prepares the file) or the v11 list.

    ``deferrable=False`` polls in the worker instead (for setups without a triggerer).
    """

    template_fields = ("conn_id",)

    def __init__(
        self,
        *,
        conn_id: str,
        poll_interval: float = 5.0,
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
        context["account_label"] = self.conn_id
        start, end = _window(context)
        base: dict[str, Any] = {
            "conn_id": self.conn_id,
            "window": [start.isoformat(), end.isoformat()],
            "seen_at": end.isoformat(),
            "snapshot_date": ex.snapshot_date(start).isoformat(),
        }
        reason = ex.past_run_message(end, datetime.now(UTC))
        if reason:
            log.warning("%s", reason)
            return {**base, "skipped": reason}
        params = context.get("params") or {}
        try:
            source = ex.resolve_source(params, Variable.get(ex.SOURCE_VARIABLE, default=None))
        except BolConfigError as error:
            raise AirflowFailException(str(error)) from error
        database = warehouse_location()
        staging = staging_dir(
            staging_root(staging_anchor(database)), context["dag"].dag_id, context["run_id"], self.conn_id
        )
        hook = BolRetailerHook(self.conn_id)
        audit: dict[str, Any] = {"conn_id": self.conn_id, "window_start": start, "window_end": end}
        if source == "v11":
            return self._extract_v11(context, hook, database, staging, base, audit, bool(params.get("full_sweep")))
        with audited(context, database, audit, hook):
            audit["retailer_id"] = hook.retailer_id
            process = hook.request_offer_export()
            audit["queries"] = f"offer export, process status {process['processStatusId']}"
        carry = {
            **base,
            "retailer_id": audit["retailer_id"],
            "source": "export",
            "full": True,
            "staging_file": str(staging / ex.EXPORT_FILE),
            "api": hook.metrics.as_dict(),
        }
        poll = float(Variable.get(POLL_VARIABLE, default=None) or self.poll_interval)
        trigger = OfferExportTrigger(
            self.conn_id,
            str(process["processStatusId"]),
            poll_interval=poll,
            max_poll_interval=self.max_poll_interval,
            timeout_seconds=self.export_timeout.total_seconds(),
            carry=carry,
        )
        log.info("bol is preparing the offer export %s; deferring until it is ready.", process["processStatusId"])
        if not self.deferrable:
            event = asyncio.run(first_event(trigger))
            return self.execute_complete(context, event.payload if event else None)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=self.export_timeout + timedelta(minutes=10))
        raise AssertionError("unreachable: defer raises")

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed after the trigger fired: download the file on SUCCESS, fail clearly otherwise."""
        if not event or "carry" not in event:
            raise AirflowFailException(f"the offer export wait ended without an event ({event!r}).")
        carry = dict(event["carry"])
        context["account_label"] = carry["conn_id"]
        start, end = (datetime.fromisoformat(v) for v in carry["window"])
        hook = BolRetailerHook(carry["conn_id"])
        hook.metrics.add(**carry.pop("api", {}))
        audit: dict[str, Any] = {
            "conn_id": carry["conn_id"],
            "retailer_id": carry["retailer_id"],
            "window_start": start,
            "window_end": end,
            "queries": f"offer export, process status {event.get('process_status_id')}",
        }
        with audited(context, warehouse_location(), audit, hook):
            if event.get("status") != SUCCESS:
                raise OfferExportFailed(event.get("message") or f"offer export ended with {event.get('status')}")
            text = hook.download_offer_export(str(event["report_id"]))
            path = Path(carry["staging_file"])
            ex.write_export(path, text)
            rows = parse_export_csv(text).source_rows  # malformed files fail here, before anything is loaded
            audit.update(offers_listed=rows, pages=1)
        log.info("Offer export %s: %d offers staged in %s.", event["report_id"], rows, path)
        return {**carry, "source_rows": rows, "api": hook.metrics.as_dict()}

    def _extract_v11(
        self,
        context: Any,
        hook: BolRetailerHook,
        database: Any,
        staging: Path,
        base: dict[str, Any],
        audit: dict[str, Any],
        force_full: bool,
    ) -> dict[str, Any]:
        seen_at = datetime.fromisoformat(base["seen_at"])
        with audited(context, database, audit, hook):
            retailer_id = audit["retailer_id"] = hook.retailer_id
            with connect_warehouse(database) as conn:
                state = sync_state(conn, retailer_id)
            plan = ex.plan_v11(state, seen_at, force_full)
            log.info("v11 offers of retailer %s: %s.", retailer_id, plan.reason)
            path = staging / ex.V11_FILE
            rows, pages = ex.stage_v11(hook, path, plan.modified_since)
            audit.update(queries=f"v11 {plan.reason}", pages=pages, offers_listed=rows)
        return {
            **base,
            "retailer_id": retailer_id,
            "source": "v11",
            "full": plan.full,
            "staging_file": str(path),
            "source_rows": rows,
            "api": hook.metrics.as_dict(),
        }


def read_staged(extracted: dict[str, Any]) -> OfferRows:
    path = Path(extracted["staging_file"])
    if extracted["source"] == "export":
        return parse_export_csv(path.read_text(encoding="utf-8"))
    return parse_v11_offers(read_ndjson(path))


@task(
    task_id="load",
    pool=WAREHOUSE_POOL,
    map_index_template="{{ account_label }}",
    outlets=assets.OFFERS_LOAD_OUTLETS,
)
def load_offers(extracted: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged offers, flag deletions (full sources), write the day's snapshot."""
    context = get_current_context()
    context["account_label"] = extracted["conn_id"]  # type: ignore[typeddict-unknown-key]
    if extracted.get("skipped"):
        log.warning("Nothing to load: %s", extracted["skipped"])
        extras = assets.offers_event_extras(
            None,
            conn_id=extracted["conn_id"],
            retailer_id=str(extracted.get("retailer_id")),
            run_id=context["run_id"],
            counts={"skipped": str(extracted["skipped"])[:200]},
        )
        assets.emit(context, extras)
        return extracted
    start, end = (datetime.fromisoformat(v) for v in extracted["window"])
    seen_at = datetime.fromisoformat(extracted["seen_at"])
    day = datetime.fromisoformat(extracted["snapshot_date"]).date()
    retailer_id, source, full = extracted["retailer_id"], extracted["source"], bool(extracted["full"])
    audit: dict[str, Any] = {
        "conn_id": extracted["conn_id"],
        "retailer_id": retailer_id,
        "window_start": start,
        "window_end": end,
        "offers_listed": extracted["source_rows"],
    }
    database = warehouse_location()
    with audited(context, database, audit, None):
        rows = read_staged(extracted)
        offers = latest_per_offer(rows.frame)
        with connect_warehouse(database) as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                counts = upsert_offers(
                    conn, retailer_id, offers, rows.provided, source=source, seen_at=seen_at, full=full
                )
                counts.snapshots = write_snapshots(conn, retailer_id, day)
                record_sync_state(conn, retailer_id, source=source, seen_at=seen_at, full=full)
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
            changes = {"inserted": counts.inserted, "updated": counts.updated, "flagged_deleted": counts.deleted}
            extras = assets.offers_event_extras(
                conn, conn_id=extracted["conn_id"], retailer_id=retailer_id, run_id=context["run_id"], counts=changes
            )
            assets.emit(context, extras)
        audit.update(offers_inserted=counts.inserted, offers_updated=counts.updated, offers_deleted=counts.deleted)
    log.info(
        "Offers of retailer %s (%s%s): +%d new, %d changed, %d flagged deleted; snapshot %s has %d offers.",
        retailer_id,
        source,
        ", full" if full else ", incremental",
        counts.inserted,
        counts.updated,
        counts.deleted,
        day,
        counts.snapshots,
    )
    return {
        **extracted,
        "offers_inserted": counts.inserted,
        "offers_updated": counts.updated,
        "offers_deleted": counts.deleted,
        "snapshots": counts.snapshots,
    }


@task(pool=WAREHOUSE_POOL, map_index_template="{{ account_label }}")
def check_quality(loaded: dict[str, Any]) -> dict[str, Any]:
    """After the load: source rows == live offers loaded (distinct ids), keys unique and not null."""
    context = get_current_context()
    context["account_label"] = loaded["conn_id"]  # type: ignore[typeddict-unknown-key]
    if loaded.get("skipped"):
        log.warning("Nothing to check: %s", loaded["skipped"])
        return {"conn_id": loaded["conn_id"], "skipped": loaded["skipped"]}
    offer_ids = [str(v) for v in read_staged(loaded).frame["offer_id"]]
    with connect_warehouse(warehouse_location()) as conn:
        problems = quality_problems(conn, loaded["retailer_id"], offer_ids, int(loaded["source_rows"]))
    if problems:
        raise AirflowFailException(
            f"Offer data-quality check failed for retailer {loaded['retailer_id']} (connection "
            f"'{loaded['conn_id']}', {loaded['source']}): " + "; ".join(problems) + "."
        )
    log.info("Offer data-quality check passed: %d offers, keys unique and not null.", loaded["source_rows"])
    remove(Path(loaded["staging_file"]).parent)
    summary = ("conn_id", "retailer_id", "source", "full", "source_rows", "offers_inserted", "offers_updated")
    return {k: loaded.get(k) for k in (*summary, "offers_deleted", "snapshots")}
