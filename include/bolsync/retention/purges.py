"""What the tasks of ``bol_retention`` run: purge the personal store and the raw archive by their rules, record
each try.

The rules are the ones of ``personal.retention`` (every retailer in the store, by the opt-in of the
connections that stored it) and ``archive.purge``; these tasks only run them on their own schedule. Every try
writes its ``bol.retention_purges`` row, failed or not; a try that succeeds clears the target's retention
alerts. A try that could not remove everything due fails, so Airflow retries it and the overdue check sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bolsync.archive.tasks import purge_expired_archives
from bolsync.personal.store import existing_personal_store, personal_store_path
from bolsync.personal.tasks import purge_personal_data
from bolsync.retention.record import PERSONAL_STORE, RAW_ARCHIVE, PurgeCounts, record_purge
from bolsync.runs import alert_log, config
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, warehouse_target
from bolsync_provider.errors import BolConfigError
from bolsync_provider.redaction import redact

log = logging.getLogger(__name__)


class ArchivePurgeIncomplete(OSError):
    """Archived attempts past their retention that could not be removed."""


def purge_personal_store(context: Any) -> dict[str, Any]:
    """Clear contact details past their retention and delete rows past the fiscal retention, every retailer."""
    database = warehouse_target()
    with recorded_purge(context, database, PERSONAL_STORE) as counts:
        accounts = config.accounts(context.get("params"))
        now = datetime.now(UTC)
        with existing_personal_store(database) as store:
            if store is None:
                log.info("No personal store: no account has stored personal data in this warehouse.")
                counts.retailers = counts.contacts_purged = counts.rows_deleted = counts.retailers_kept = 0
                return counts.as_dict()
            counts.location = _personal_location(database, store.table)
            purged = purge_personal_data(store, accounts, now)
        counts.retailers, counts.retailers_kept = purged.retailers, purged.retailers_kept
        counts.contacts_purged, counts.rows_deleted = purged.contacts_purged, purged.rows_deleted
        log.info(
            "Personal store %s: %d retailers, contact details purged on %d orders, %d rows deleted, %d retailers kept "
            "for now (retention unknown).",
            counts.location,
            purged.retailers,
            purged.contacts_purged,
            purged.rows_deleted,
            purged.retailers_kept,
        )
    return counts.as_dict()


def purge_raw_archive(context: Any) -> dict[str, Any]:
    """Remove the archived API responses past their retention (opted-in accounts' sooner, by their policy)."""
    database = warehouse_target()
    with recorded_purge(context, database, RAW_ARCHIVE) as counts:
        purged = purge_expired_archives(database.staging_anchor)
        if purged is None:
            log.info("The raw archive is off ([bolsync] archive_url): nothing to purge.")
            counts.location, counts.folders_removed, counts.folders_failed = "off", 0, 0
            return counts.as_dict()
        location, result = purged
        counts.location = location.root if location.local else location.fs.unstrip_protocol(location.root)
        counts.folders_removed, counts.folders_failed = len(result.removed), len(result.failed)
        log.info("Raw archive %s: removed %d attempts past their retention.", counts.location, len(result.removed))
        if result.failed:
            raise ArchivePurgeIncomplete(
                f"Could not remove {len(result.failed)} archived attempts past their retention under "
                f"{counts.location} (first: {result.failed[0]}; the task log names each and why): let the Airflow "
                "workers delete there (file ownership and permissions, or the bucket's policy); the task's retries "
                "and the next run remove them."
            )
    return counts.as_dict()


@contextmanager
def recorded_purge(context: Any, database: WarehouseTarget, target: str) -> Iterator[PurgeCounts]:
    """Record the purge try in ``bol.retention_purges`` whatever happens; configuration errors fail at once.

    A success that cannot be recorded fails the task (the purge is idempotent; the retry records it).
    """
    started = datetime.now(UTC)
    counts = PurgeCounts(target)
    try:
        yield counts
    except Exception as error:
        text = redact(f"{type(error).__name__}: {error}")
        try:
            _write(database, context, counts, started, text)
        except Exception as record_error:
            log.error("Could not record the failed purge in bol.retention_purges: %s", record_error)
        if isinstance(error, BolConfigError):
            raise AirflowFailException(str(error)) from error
        raise
    _write(database, context, counts, started, None)


def _write(database: WarehouseTarget, context: Any, counts: PurgeCounts, started: datetime, error: str | None) -> None:
    status = "failed" if error else "success"
    with connect_warehouse(database) as conn:
        record_purge(conn, context, counts, status=status, started=started, finished=datetime.now(UTC), error=error)
        if error is None:
            _clear_alerts(conn, context, counts.target, started)
        alert_log.write_pending_quietly(conn)


def _clear_alerts(conn: Any, context: Any, target: str, started: datetime) -> None:
    ti = context["ti"]
    try:
        alert_log.clear(
            conn,
            reason=f"purge succeeded: {ti.dag_id} / {ti.run_id}",
            before=started,
            kinds=("retention",),
            key_prefix=f"retention:{target}:",
        )
    except Exception as error:
        log.error("Could not clear the retention alerts of %s: %s", target, error)


def _personal_location(database: WarehouseTarget, table: str) -> str:
    if database.backend == "duckdb" and database.path is not None:
        return f"{personal_store_path(database.path)}: {table}"
    return table
