"""The orders stream's own extract and load, run by the generic stream tasks (``streams.tasks``).

Extract: every list item whose latest change falls in the window, and the full orders new to the warehouse
(``orders.extract``). Load: both merged in one transaction, bad records held in the quarantine, the data-quality
checks, the personal store of opted-in accounts (``orders.load``, ``orders.quality``, ``personal``). A window
whose order list never settled is loaded but not covered, and alerted with the backfill that fills it.
"""

from __future__ import annotations

from bolsync.orders.detail_exchange import withdraw
from bolsync.orders.extract import DETAILS_FILE, LIST_FILE, ExtractResult, extract_orders
from bolsync.orders.load import LoadResult, known_order_ids, load_staged_orders
from bolsync.orders.quality import check_orders_load, staged_keys
from bolsync.orders.spec import ORDER_ITEMS, ORDERS
from bolsync.orders.unsettled import unsettled_alert
from bolsync.personal.tasks import store_personal_data
from bolsync.runs.quarantine import held_note
from bolsync.runs.staging import read_ndjson, staging_root
from bolsync.streams.spec import Extracted, ExtractJob, Loaded, LoadJob
from bolsync.warehouse.connection import connect_warehouse

#: ``Extracted.info`` keys.
DETAILS_NOT_FOUND = "details_not_found"
UNSETTLED = "unsettled_queries"


def extract(job: ExtractJob) -> Extracted:
    """Stage the window's list items and the full orders new to the warehouse (shared with concurrent runs
    through the detail exchange; reused from earlier attempts of the run)."""

    def known(retailer_id: str, order_ids: set[str]) -> set[str]:
        with connect_warehouse(job.database) as conn:
            return known_order_ids(conn, retailer_id, order_ids)

    result = extract_orders(
        job.hook,
        job.window,
        job.now,
        job.staging,
        known,
        job.earlier,
        personal_secret=job.personal_secret,
        exchange_root=job.staging_root,
        warehouse_name=str(job.database),
    )
    return Extracted(
        audit={
            "queries": "; ".join(result.queries),
            "pages": result.pages,
            "orders_listed": result.orders_listed,
            "order_details_fetched": result.order_details_fetched,
            "records_listed": result.items_listed,
            "details_fetched": result.order_details_fetched,
        },
        notes=_problems(result),
        complete=not result.unsettled_queries,
        info={DETAILS_NOT_FOUND: result.details_not_found, UNSETTLED: result.unsettled_queries},
    )


def load(job: LoadJob) -> Loaded:
    """Merge the staged orders, check the load, store opted-in personal data; alert an unsettled window."""
    result = load_staged_orders(job.conn, job.retailer_id, job.staging, lineage=job.lineage, quarantine=job.quarantine)
    withdraw(staging_root(job.database.staging_anchor), str(job.database), job.retailer_id, result.details_held)
    details_not_found = list(job.extracted.info.get(DETAILS_NOT_FOUND) or [])
    check = check_orders_load(
        job.conn,
        conn_id=job.conn_id,
        retailer_id=job.retailer_id,
        staged=staged_keys(
            read_ndjson(job.staging / LIST_FILE),
            read_ndjson(job.staging / DETAILS_FILE),
            result.held_ids,
            result.details_held,
        ),
        details_not_found=details_not_found,
        orders_upserted=result.orders.inserted + result.orders.updated,
        items_inserted=result.items.inserted,
    )
    # Opted-in accounts only: customer data goes to the personal store (own file / schema; bol_retention purges it).
    store_personal_data(job.conn_id, job.retailer_id, job.staging, job.database, skip=result.details_held)
    unsettled = list(job.extracted.info.get(UNSETTLED) or [])
    return Loaded(
        tables={ORDERS.name: result.orders, ORDER_ITEMS.name: result.items},
        held=len(result.held),
        audit=_counts(result),
        notes=[note for note in (check, held_note(result.held)) if note],
        alerts=[unsettled_alert(job.conn_id, job.retailer_id, job.window, unsettled, job.context)] if unsettled else [],
    )


def _counts(result: LoadResult) -> dict[str, int]:
    return {
        "orders_inserted": result.orders.inserted,
        "orders_updated": result.orders.updated,
        "items_inserted": result.items.inserted,
        "items_updated": result.items.updated,
    }


def _problems(result: ExtractResult) -> list[str]:
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
