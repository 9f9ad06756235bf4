"""What the tasks do about personal data: the orders and returns loads store it for opted-in accounts, the
retention DAG (``bol_retention``) purges it."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bolsync.personal.policy import PersonalDataPolicy, policy_for, purge_policy
from bolsync.personal.retention import retention_days
from bolsync.personal.secret import pseudonym_secret
from bolsync.personal.staging import staged_personal_rows
from bolsync.personal.store import PersonalStore, connect_personal_store
from bolsync.runs import config
from bolsync.warehouse.connection import WarehouseTarget
from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonalPurge:
    """What one purge of the personal store did, over every retailer in it."""

    retailers: int
    retailers_kept: int
    contacts_purged: int
    rows_deleted: int


def personal_secret_for(conn_id: str) -> bytes | None:
    """The pseudonym key when the account opted in to storing personal data, else None (store nothing)."""
    return pseudonym_secret() if policy_for(conn_id).store else None


def store_personal_data(
    conn_id: str, retailer_id: str, staging: Path, target: WarehouseTarget, skip: Collection[str] = ()
) -> None:
    """Move staged personal rows into the personal store of ``target`` when the account opts in (but those of
    the orders in ``skip``: held in the quarantine)."""
    policy = policy_for(conn_id)
    rows = [row for row in staged_personal_rows(staging) if row.get("order_id") not in skip]
    if not policy.store:
        if rows:
            log.info(
                "Connection '%s' no longer opts in to personal data: %d staged rows not stored.", conn_id, len(rows)
            )
        return
    now = datetime.now(UTC)
    with connect_personal_store(target) as store:
        stored = store.upsert(retailer_id, rows, now)
        store.record_account(retailer_id, conn_id, now)
        log.info(
            "Personal store %s: %d new orders of retailer %s (of %d staged).",
            store.table,
            stored,
            retailer_id,
            len(rows),
        )


def store_return_customers(
    conn_id: str,
    retailer_id: str,
    rows: Sequence[Mapping[str, object]],
    target: WarehouseTarget,
    skip: Collection[str] = (),
) -> int:
    """Move staged personal rows of return items into the personal store of ``target`` when the account opts in
    (but those of the returns in ``skip``: held in the quarantine); how many rows were stored or filled."""
    kept = [row for row in rows if str(row.get("return_id")) not in skip]
    if not policy_for(conn_id).store:
        if kept:
            log.info(
                "Connection '%s' no longer opts in to personal data: %d staged return rows not stored.",
                conn_id,
                len(kept),
            )
        return 0
    now = datetime.now(UTC)
    with connect_personal_store(target) as store:
        stored = store.upsert_returns(retailer_id, kept, now)
        store.record_account(retailer_id, conn_id, now)
        log.info(
            "Personal store %s: %d return items of retailer %s stored or filled (of %d staged rows).",
            store.returns_table,
            stored,
            retailer_id,
            len(kept),
        )
    return stored


def purge_personal_data(store: PersonalStore, run_accounts: Iterable[str], now: datetime) -> PersonalPurge:
    """Purge every retailer in ``store`` by the rule of ``retention``."""
    claims = store.claims()
    policies = _policies(set().union(*claims.values()), set(run_accounts))
    kept = contacts = deleted = 0
    for retailer, days in retention_days(claims, policies, store.claims_recorded_since(), now).items():
        if days is None:
            log.warning("Contact details of retailer %s kept for now: which retention applies is unknown.", retailer)
            kept += 1
        result = store.purge(retailer, days, now)
        contacts += result.contacts_purged
        deleted += result.rows_deleted
    return PersonalPurge(len(claims), kept, contacts, deleted)


def _policies(claiming: set[str], synced: set[str]) -> dict[str, PersonalDataPolicy | None]:
    """The policies of the claiming connections that are synced; None where it cannot be read."""
    unknown: set[str] = set()
    try:
        synced = synced | set(config.accounts(None))
    except BolConfigError as error:
        log.warning("Which accounts are synced is unknown (%s): the others' personal data is kept for now.", error)
        unknown = claiming - synced
    return {conn_id: purge_policy(conn_id) for conn_id in claiming & synced} | dict.fromkeys(unknown)
