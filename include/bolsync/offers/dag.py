"""Builds the offers DAG; the DAG file only calls :func:`offers_dag` (no I/O at import time)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, task_group

from bolsync.offers.tasks import OffersExtractOperator, check_quality, load_offers
from bolsync.runs.config import OFFERS_SOURCE_VARIABLE
from bolsync.runs.defaults import API_POOL, stream_dag
from bolsync.runs.evidence import confirm_params
from bolsync.runs.tasks import check_auth, list_accounts


def offers_dag(dag_id: str, cron: str, timezone: str, start_date: datetime, doc_md: str | None) -> DAG:
    """A DAG syncing every account's current offers once per data interval (see bolsync.offers)."""
    with stream_dag(
        dag_id,
        cron=cron,
        timezone=timezone,
        start_date=start_date,
        doc_md=doc_md,
        tags=["offers"],
        max_active_runs=1,
        params={
            "source": Param(
                None,
                type=["null", "string"],
                enum=[None, "export", "v11"],
                description=f"'export' (v10 CSV export) or 'v11' (v11 offer list); empty = Variable "
                f"{OFFERS_SOURCE_VARIABLE}, default 'export'.",
            ),
            "full_sweep": Param(
                False, type="boolean", description="v11 only: list every offer and flag the missing ones deleted."
            ),
            **confirm_params("offers"),
        },
    ) as dag:
        sync_offers_account.expand(conn_id=list_accounts())
    return dag


@task_group(group_id="sync_account")
def sync_offers_account(conn_id: str) -> None:
    """One account's offers chain, mapped per account."""
    extracted = OffersExtractOperator(
        task_id="extract",
        conn_id=check_auth(conn_id),  # type: ignore[arg-type]  # an XComArg, rendered at run time
        pool=API_POOL,
        map_index_template="{{ account_label }}",
    )
    check_quality(load_offers(extracted.output))  # type: ignore[arg-type]
