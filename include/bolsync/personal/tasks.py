"""What the orders tasks do about personal data: stage it for opted-in accounts, store it, purge it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from bolsync.personal.policy import policy_for
from bolsync.personal.secret import pseudonym_secret
from bolsync.personal.staging import staged_personal_rows
from bolsync.personal.store import connect_personal_store
from bolsync.warehouse.connection import WarehouseTarget

log = logging.getLogger(__name__)

#: The nightly run purges expired personal data.
PURGING_DAG_IDS = frozenset({"bol_orders_daily"})


def personal_secret_for(conn_id: str) -> bytes | None:
    """The pseudonym key when the account opted in to storing personal data, else None (store nothing)."""
    return pseudonym_secret() if policy_for(conn_id).store else None


def store_personal_data(conn_id: str, retailer_id: str, staging: Path, target: WarehouseTarget, dag_id: str) -> None:
    """Move staged personal rows into the personal store of ``target``; purge expired data in the nightly run."""
    policy = policy_for(conn_id)
    rows = staged_personal_rows(staging)
    if not policy.store and not rows:
        return
    now = datetime.now(UTC)
    with connect_personal_store(target) as store:
        stored = store.upsert(retailer_id, rows, now) if policy.store else 0
        if dag_id in PURGING_DAG_IDS:
            store.purge(retailer_id, policy.retention_days, now)
    if rows:
        log.info(
            "Personal store %s: %d new orders of retailer %s (of %d staged).",
            store.table,
            stored,
            retailer_id,
            len(rows),
        )
