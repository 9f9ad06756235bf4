"""The Airflow tasks of the orders DAGs: thin wrappers that read the context and call the layers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from bolsync.accounts import ACCOUNTS_VARIABLE, resolve_accounts
from bolsync.orders.extract import ExtractResult, extract_orders
from bolsync.orders.load import load_staged_orders
from bolsync.orders.staging import remove, staging_dir, staging_root
from bolsync.warehouse.duckdb_connection import connect_warehouse, warehouse_path
from bolsync.warehouse.order_store import known_order_ids, record_sync_run
from bolsync.windows import SyncWindow
from bolsync_provider.exceptions import BolAuthError, BolClientError, BolConfigError, BolResponseError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)

API_POOL = "bol_api"
WAREHOUSE_POOL = "bol_warehouse"
#: Errors a retry cannot fix (configuration, auth, 4xx, malformed data): fail at once, no Airflow retries.
FATAL_ERRORS = (BolConfigError, BolAuthError, BolClientError, BolResponseError)


@task
def list_accounts() -> list[str]:
    """The connection ids to sync in this run."""
    context = get_current_context()
    params = context.get("params") or {}
    try:
        return resolve_accounts(params, Variable.get(ACCOUNTS_VARIABLE, default=None))
    except BolConfigError as error:
        raise AirflowFailException(str(error)) from error


@task(pool=API_POOL, map_index_template="{{ account_label }}")
def extract(conn_id: str) -> dict[str, Any]:
    """Pull the run's window of order changes for one account into local staging files."""
    context = get_current_context()
    context["account_label"] = conn_id  # type: ignore[typeddict-unknown-key]
    window = _window(context)
    database = warehouse_path()
    staging = staging_dir(staging_root(database), context["dag"].dag_id, context["run_id"], conn_id)
    hook = BolRetailerHook(conn_id)
    audit = {"conn_id": conn_id, "window_start": window.start, "window_end": window.end}

    def known(retailer_id: str, order_ids: set[str]) -> set[str]:
        with connect_warehouse(database) as conn:
            return known_order_ids(conn, retailer_id, order_ids)

    with _audited(context, database, audit, hook):
        result = extract_orders(hook, window, datetime.now(UTC), staging, known)
        audit.update(_extract_audit(result))
    return {
        **asdict(result),
        "api": hook.metrics.as_dict(),
        "window": [window.start.isoformat(), window.end.isoformat()],
    }


@task(pool=WAREHOUSE_POOL, map_index_template="{{ account_label }}")
def load(extracted: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged data into the warehouse and record the run."""
    context = get_current_context()
    context["account_label"] = extracted["conn_id"]  # type: ignore[typeddict-unknown-key]
    database = warehouse_path()
    start, end = (datetime.fromisoformat(v) for v in extracted["window"])
    audit: dict[str, Any] = {
        "conn_id": extracted["conn_id"],
        "retailer_id": extracted["retailer_id"],
        "window_start": start,
        "window_end": end,
    }
    staging = Path(extracted["staging_dir"])
    with _audited(context, database, audit, None):
        with connect_warehouse(database) as conn:
            result = load_staged_orders(conn, extracted["retailer_id"], staging)
        audit.update(
            orders_inserted=result.orders.inserted,
            orders_updated=result.orders.updated,
            items_inserted=result.items.inserted,
            items_updated=result.items.updated,
        )
    remove(staging)
    return {
        "conn_id": extracted["conn_id"],
        **{k: v for k, v in audit.items() if k.endswith(("inserted", "updated"))},
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
        "error": (
            f"{len(result.details_not_found)} listed orders had no detail (404): "
            + ", ".join(result.details_not_found[:20])
        )
        if result.details_not_found
        else None,
    }


@contextmanager
def _audited(context: Any, database: Path, audit: dict[str, Any], hook: BolRetailerHook | None) -> Iterator[None]:
    """Record one bol.sync_runs row for this task try, whatever happens; make fatal errors fail fast."""
    started = datetime.now(UTC)
    status, error_text = "success", audit.get("error")
    try:
        yield
    except FATAL_ERRORS as error:
        status, error_text = "failed", f"{type(error).__name__}: {error}"
        raise AirflowFailException(str(error)) from error
    except Exception as error:
        status, error_text = "failed", f"{type(error).__name__}: {error}"
        raise
    finally:
        row = {
            **audit,
            **(hook.metrics.as_dict() if hook else {}),
            "status": status,
            "error": error_text or audit.get("error"),
        }
        _write_audit(context, database, row, started)


def _write_audit(context: Any, database: Path, row: dict[str, Any], started: datetime) -> None:
    ti = context["ti"]
    full = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index if ti.map_index is not None else -1,
        "try_number": ti.try_number,
        **row,
        "started_at": started,
        "finished_at": datetime.now(UTC),
    }
    _retrying(lambda: _insert_audit(database, full))


def _insert_audit(database: Path, row: dict[str, Any]) -> None:
    with connect_warehouse(database) as conn:
        record_sync_run(conn, row)


def _retrying(action: Callable[[], None], attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        try:
            action()
            return
        except Exception as error:  # the audit row must never hide the task's own outcome
            if attempt == attempts:
                log.error("Could not write the sync_runs audit row: %s", error)
                return
            time.sleep(attempt)
