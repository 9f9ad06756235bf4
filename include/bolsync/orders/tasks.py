"""The Airflow tasks of the orders DAGs: thin wrappers that read the context and call the layers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import get_current_context, task

from bolsync.archive.tasks import archive_responses
from bolsync.orders.detail_exchange import withdraw
from bolsync.orders.extract import DETAILS_FILE, LIST_FILE, ExtractResult, extract_orders
from bolsync.orders.load import LoadResult, known_order_ids, load_staged_orders
from bolsync.orders.quality import check_orders_load, staged_keys
from bolsync.orders.spec import STREAM
from bolsync.orders.unsettled import unsettled_alert
from bolsync.personal.tasks import personal_secret_for, store_personal_data
from bolsync.runs import alerts, assets
from bolsync.runs.audit import audited
from bolsync.runs.defaults import API_POOL, WAREHOUSE_POOL
from bolsync.runs.payload import Payload
from bolsync.runs.quarantine import Quarantine, alert_new, held_note
from bolsync.runs.staging import (
    clean_up_after_load,
    new_attempt,
    read_ndjson,
    reading_attempt,
    sibling_attempts,
    staging_dir,
    staging_root,
)
from bolsync.runs.tasks import label_task
from bolsync.runs.windows import SyncWindow, run_window
from bolsync.warehouse.connection import Warehouse, connect_warehouse, warehouse_target
from bolsync.warehouse.lineage import Lineage
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrdersExtracted(Payload):
    """What an orders extract hands its load."""

    conn_id: str
    retailer_id: str
    staging_dir: str
    window_start: str
    window_end: str
    orders_listed: int = 0
    order_details_fetched: int = 0
    details_not_found: list[str] = field(default_factory=list)
    #: Queries whose list never settled: the window's data may be incomplete, so its load does not cover it.
    unsettled_queries: list[str] = field(default_factory=list)
    api: dict[str, float] = field(default_factory=dict)
    #: When the extract pulled the data from the API (ISO 8601): the rows' lineage.
    extracted_at: str | None = None


@task(pool=API_POOL, map_index_template="{{ account_label }}")
def extract(conn_id: str) -> dict[str, Any]:
    """Pull the run's window of order changes for one account into local staging files."""
    context = get_current_context()
    label_task(context, conn_id)
    window = run_window(context)
    database = warehouse_target()
    root = staging_root(database.staging_anchor)
    staging = staging_dir(root, context["dag"].dag_id, context["run_id"], conn_id)
    hook = BolRetailerHook(conn_id)
    audit = {"conn_id": conn_id, "window_start": window.start, "window_end": window.end}

    def known(retailer_id: str, order_ids: set[str]) -> set[str]:
        with connect_warehouse(database) as conn:
            return known_order_ids(conn, retailer_id, order_ids)

    # Each try stages into a folder of its own below the run's (a zombie and its retry never share files);
    # full orders staged by an earlier try of the run are reused from the sibling folders.
    extracted_at = datetime.now(UTC)
    with (
        audited(context, database, audit, hook),
        new_attempt(staging, context["ti"].try_number) as attempt,
        archive_responses(hook, context, window, extracted_at, database.staging_anchor),
    ):
        audit["retailer_id"] = hook.get_retailer_id()  # named in the audit row and alert whatever fails next
        result = extract_orders(
            hook,
            window,
            extracted_at,
            attempt,
            known,
            sibling_attempts(attempt),
            personal_secret=personal_secret_for(conn_id),
            exchange_root=root,
            warehouse_name=str(database),
        )
        audit.update(_extract_audit(result))
    return OrdersExtracted(
        conn_id=result.conn_id,
        retailer_id=result.retailer_id,
        staging_dir=result.staging_dir,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        orders_listed=result.orders_listed,
        order_details_fetched=result.order_details_fetched,
        details_not_found=result.details_not_found,
        unsettled_queries=result.unsettled_queries,
        api=hook.metrics.as_dict(),
        extracted_at=extracted_at.isoformat(),
    ).to_xcom()


@task(pool=WAREHOUSE_POOL, map_index_template="{{ account_label }}", outlets=assets.ORDERS_LOAD_OUTLETS)
def load(payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged data into the warehouse, check it and record the run."""
    extracted = OrdersExtracted.from_xcom(payload)
    context = get_current_context()
    label_task(context, extracted.conn_id)
    database = warehouse_target()
    audit: dict[str, Any] = {
        "conn_id": extracted.conn_id,
        "retailer_id": extracted.retailer_id,
        "window_start": datetime.fromisoformat(extracted.window_start),
        "window_end": datetime.fromisoformat(extracted.window_end),
    }
    staging = Path(extracted.staging_dir)
    settled = not extracted.unsettled_queries
    # The connection closes before audited() writes the try's row; a failed check is recorded and fails the task.
    with (
        audited(context, database, audit, None, covers_window=settled),
        reading_attempt(staging, LIST_FILE),
        connect_warehouse(database) as conn,
    ):
        lineage = Lineage.of_run(context, extracted.extracted_at)
        quarantine = Quarantine.of_run(
            STREAM,
            context,
            conn_id=extracted.conn_id,
            retailer_id=extracted.retailer_id,
            window_start=audit["window_start"],
            window_end=audit["window_end"],
        )
        result = load_staged_orders(conn, extracted.retailer_id, staging, lineage=lineage, quarantine=quarantine)
        withdraw(staging_root(database.staging_anchor), str(database), extracted.retailer_id, result.details_held)
        audit.update(_load_counts(result))
        notes = [_check_load(conn, extracted, staging, result), held_note(result.held)]
        audit["error"] = "; ".join(note for note in notes if note) or None
        alert_new(conn, STREAM, extracted.conn_id, context)
        # Opted-in accounts only: customer data goes to the personal store (own file / schema; bol_retention purges it).
        store_personal_data(extracted.conn_id, extracted.retailer_id, staging, database, skip=result.details_held)
        assets.emit(context, assets.load_event_extras(conn, **_event_args(context, audit)))
    clean_up_after_load(staging)
    if not settled:
        window = SyncWindow(audit["window_start"], audit["window_end"])
        queries = extracted.unsettled_queries
        alerts.send(unsettled_alert(extracted.conn_id, extracted.retailer_id, window, queries, context), context)
    return {"conn_id": extracted.conn_id, **_load_counts(result)}


def _load_counts(result: LoadResult) -> dict[str, int]:
    return {
        "orders_inserted": result.orders.inserted,
        "orders_updated": result.orders.updated,
        "items_inserted": result.items.inserted,
        "items_updated": result.items.updated,
        "quarantined": len(result.held),
    }


def _check_load(conn: Warehouse, extracted: OrdersExtracted, staging: Path, result: LoadResult) -> str | None:
    """The data-quality checks of an orders load (``orders.quality``)."""
    return check_orders_load(
        conn,
        conn_id=extracted.conn_id,
        retailer_id=extracted.retailer_id,
        staged=staged_keys(
            read_ndjson(staging / LIST_FILE), read_ndjson(staging / DETAILS_FILE), result.held_ids, result.details_held
        ),
        details_not_found=extracted.details_not_found,
        orders_upserted=result.orders.inserted + result.orders.updated,
        items_inserted=result.items.inserted,
    )


def _event_args(context: Any, audit: dict[str, Any]) -> dict[str, Any]:
    counts = {k: int(v or 0) for k, v in audit.items() if k.endswith(("inserted", "updated"))}
    return {
        "conn_id": audit["conn_id"],
        "retailer_id": audit["retailer_id"],
        "run_id": context["run_id"],
        "counts": counts,
    }


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
