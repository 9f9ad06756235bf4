"""The Airflow tasks of the orders DAGs: thin wrappers that read the context and call the layers."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from bolsync import alerts, assets, quality
from bolsync.accounts import ACCOUNTS_VARIABLE, resolve_accounts
from bolsync.audit import FATAL_ERRORS, audited
from bolsync.freshness import STALE_AFTER_VARIABLE, account_freshness, stale_after_hours
from bolsync.orders.extract import ExtractResult, extract_orders
from bolsync.orders.load import load_staged_orders
from bolsync.orders.staging import (
    clean_up_after_load,
    new_attempt,
    reading_attempt,
    sibling_attempts,
    staging_dir,
    staging_root,
)
from bolsync.personal.tasks import personal_secret_for, store_personal_data
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, warehouse_target
from bolsync.warehouse.order_store import known_order_ids
from bolsync.windows import SyncWindow
from bolsync_provider.exceptions import BolConfigError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)

API_POOL = "bol_api"
WAREHOUSE_POOL = "bol_warehouse"
__all__ = ["FATAL_ERRORS", "check_auth", "extract", "list_accounts", "load"]


@task
def list_accounts() -> list[str]:
    """The connection ids to sync in this run."""
    context = get_current_context()
    params = context.get("params") or {}
    try:
        return resolve_accounts(params, Variable.get(ACCOUNTS_VARIABLE, default=None))
    except BolConfigError as error:
        raise AirflowFailException(str(error)) from error


@task(map_index_template="{{ account_label }}")
def check_auth(conn_id: str) -> str:
    """Start of each run: one cheap auth check (a cached token costs no request) and the staleness alert.

    A broken credential thus fails here once, clearly and with one alert, instead of in every task.
    """
    context = get_current_context()
    context["account_label"] = conn_id  # type: ignore[typeddict-unknown-key]
    database = warehouse_target()
    _alert_if_stale(context, database, conn_id)
    hook = BolRetailerHook(conn_id)
    audit: dict[str, Any] = {"conn_id": conn_id}
    with audited(context, database, audit, hook):
        audit["retailer_id"] = hook.retailer_id
        log.info("Connection '%s' authenticates as retailer %s.", conn_id, audit["retailer_id"])
    return conn_id


def _alert_if_stale(context: Any, database: WarehouseTarget, conn_id: str) -> None:
    """One alert per staleness episode when an account has not loaded for longer than the threshold."""
    dag_run = context.get("dag_run")
    if dag_run is not None and str(getattr(dag_run, "run_type", "")).endswith("backfill"):
        return  # a backfill says nothing about freshness
    try:
        with connect_warehouse(database) as conn:
            freshness = account_freshness(conn, conn_id)
    except Exception as error:  # the check must not block the sync itself
        log.warning("Could not read the sync history for the freshness check: %s", error)
        return
    if freshness is None:
        return
    threshold = stale_after_hours(Variable.get(STALE_AFTER_VARIABLE, default=None))
    hours = freshness.hours_stale(datetime.now(UTC))
    if hours > threshold:
        last = freshness.last_success.isoformat() if freshness.last_success else None
        alerts.send(alerts.stale_alert(conn_id, hours, last, threshold), context)


@task(pool=API_POOL, map_index_template="{{ account_label }}")
def extract(conn_id: str) -> dict[str, Any]:
    """Pull the run's window of order changes for one account into local staging files."""
    context = get_current_context()
    context["account_label"] = conn_id  # type: ignore[typeddict-unknown-key]
    window = _window(context)
    database = warehouse_target()
    staging = staging_dir(staging_root(database.staging_anchor), context["dag"].dag_id, context["run_id"], conn_id)
    hook = BolRetailerHook(conn_id)
    audit = {"conn_id": conn_id, "window_start": window.start, "window_end": window.end}

    def known(retailer_id: str, order_ids: set[str]) -> set[str]:
        with connect_warehouse(database) as conn:
            return known_order_ids(conn, retailer_id, order_ids)

    # Each try stages into a folder of its own below the run's (a zombie and its retry never share files);
    # full orders staged by an earlier try of the run are reused from the sibling folders.
    with audited(context, database, audit, hook), new_attempt(staging, context["ti"].try_number) as attempt:
        result = extract_orders(
            hook,
            window,
            datetime.now(UTC),
            attempt,
            known,
            sibling_attempts(attempt),
            personal_secret=personal_secret_for(conn_id),
        )
        audit.update(_extract_audit(result))
    return {
        **asdict(result),
        "api": hook.metrics.as_dict(),
        "window": [window.start.isoformat(), window.end.isoformat()],
    }


@task(pool=WAREHOUSE_POOL, map_index_template="{{ account_label }}", outlets=assets.ORDERS_LOAD_OUTLETS)
def load(extracted: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged data into the warehouse and record the run."""
    context = get_current_context()
    context["account_label"] = extracted["conn_id"]  # type: ignore[typeddict-unknown-key]
    database = warehouse_target()
    start, end = (datetime.fromisoformat(v) for v in extracted["window"])
    audit: dict[str, Any] = {
        "conn_id": extracted["conn_id"],
        "retailer_id": extracted["retailer_id"],
        "window_start": start,
        "window_end": end,
    }
    staging = Path(extracted["staging_dir"])
    # The connection closes before audited() writes the try's row; a failed check is recorded and fails the task.
    with audited(context, database, audit, None), reading_attempt(staging), connect_warehouse(database) as conn:
        result = load_staged_orders(conn, extracted["retailer_id"], staging)
        audit.update(
            orders_inserted=result.orders.inserted,
            orders_updated=result.orders.updated,
            items_inserted=result.items.inserted,
            items_updated=result.items.updated,
        )
        audit["error"] = _check_load(context, conn, extracted, staging, result)
        # Opted-in accounts only: customer data goes to the personal store (own file / schema; purged nightly).
        store_personal_data(extracted["conn_id"], extracted["retailer_id"], staging, database, context["dag"].dag_id)
        assets.emit(context, assets.load_event_extras(conn, **_event_args(context, audit)))
    clean_up_after_load(staging)
    return {
        "conn_id": extracted["conn_id"],
        **{k: v for k, v in audit.items() if k.endswith(("inserted", "updated"))},
    }


def _check_load(context: Any, conn: Any, extracted: dict[str, Any], staging: Path, result: Any) -> str | None:
    """The data-quality checks of an orders load (``quality``); freshness on scheduled runs only."""
    from bolsync.orders.staging import DETAILS_FILE, LIST_FILE, read_ndjson

    dag_run = context.get("dag_run")
    scheduled = str(getattr(dag_run, "run_type", "")).lower().endswith("scheduled")
    hours = quality.freshness_hours(Variable.get(quality.FRESHNESS_VARIABLE, default=None)) if scheduled else 0.0
    return quality.check_orders_load(
        conn,
        conn_id=extracted["conn_id"],
        retailer_id=extracted["retailer_id"],
        staged=quality.staged_keys(read_ndjson(staging / LIST_FILE), read_ndjson(staging / DETAILS_FILE)),
        details_not_found=extracted.get("details_not_found") or [],
        orders_upserted=result.orders.inserted + result.orders.updated,
        items_inserted=result.items.inserted,
        freshness=(datetime.now(UTC), hours) if scheduled else None,
    )


def _event_args(context: Any, audit: dict[str, Any]) -> dict[str, Any]:
    counts = {k: int(v or 0) for k, v in audit.items() if k.endswith(("inserted", "updated"))}
    return {
        "conn_id": audit["conn_id"],
        "retailer_id": audit["retailer_id"],
        "run_id": context["run_id"],
        "counts": counts,
    }


def _window(context: Any) -> SyncWindow:
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or end <= start:
        raise AirflowFailException(
            "This DAG needs a [start, end) data interval; use its schedule, a backfill, or trigger with a logical date."
        )
    return SyncWindow(start, end)


def _extract_audit(result: ExtractResult) -> dict[str, Any]:
    return {
        "retailer_id": result.retailer_id,
        "queries": "; ".join(result.queries),
        "pages": result.pages,
        "orders_listed": result.orders_listed,
        "order_details_fetched": result.order_details_fetched,
        "error": "; ".join(_extract_problems(result)) or None,
    }


def _extract_problems(result: ExtractResult) -> list[str]:
    """What the audit row of a successful extract should still show."""
    problems = []
    if result.details_not_found:
        problems.append(
            f"{len(result.details_not_found)} listed orders had no detail (404): "
            + ", ".join(result.details_not_found[:20])
        )
    if result.unsettled_queries:
        problems.append(
            "order list still changing after the settle passes (orders may be missing; sync the window again): "
            + ", ".join(result.unsettled_queries)
        )
    return problems
