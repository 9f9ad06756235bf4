"""What every bolsync DAG shares: pools, retries, the ``accounts`` param."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param

#: Tasks that call the bol API (caps concurrent API tasks; the request rate is the shared budget's job).
API_POOL = "bol_api"
#: Tasks that write the warehouse (one slot: DuckDB allows one writing process per file).
WAREHOUSE_POOL = "bol_warehouse"
POOLS = (API_POOL, WAREHOUSE_POOL)

DEFAULT_ARGS = {
    "owner": "bolsync",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=2),
}


def accounts_param() -> Param:
    """The ``accounts`` run parameter every bolsync DAG takes."""
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string"},
        description="bol_retailer connection ids to sync; empty = Variable bolsync_accounts or the default.",
    )
