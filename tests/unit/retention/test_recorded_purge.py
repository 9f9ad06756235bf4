"""Every try of a purge task leaves its bol.retention_purges row; a success clears the target's alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from bolsync.retention.purges import ArchivePurgeIncomplete, recorded_purge
from bolsync.retention.record import PERSONAL_STORE, RAW_ARCHIVE
from bolsync.runs import alert_log
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync_provider.errors import BolConfigError


def context(try_number: int = 1) -> dict:
    return {"ti": SimpleNamespace(dag_id="bol_retention", run_id="r1", task_id="t", try_number=try_number)}


def purges(warehouse: WarehouseTarget) -> list[tuple]:
    with connect_warehouse(warehouse) as conn:
        return conn.query(
            "SELECT target, try_number, status, folders_removed, folders_failed, error FROM bol.retention_purges "
            "ORDER BY try_number"
        )


def test_a_failed_try_is_recorded_and_raised_and_the_next_success_clears_the_alerts(
    warehouse: WarehouseTarget,
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    alert_log._pending[:] = [
        alert_log.AlertAttempt(
            key=f"retention:{target}:overdue:never", kind="retention", subject="s", body="b", at=before, sent=True
        )
        for target in (RAW_ARCHIVE, PERSONAL_STORE)
    ]

    def incomplete() -> None:
        with recorded_purge(context(1), warehouse, RAW_ARCHIVE) as counts:
            counts.folders_removed, counts.folders_failed = 3, 1
            raise ArchivePurgeIncomplete("Could not remove 1 archived attempts")

    with pytest.raises(ArchivePurgeIncomplete):
        incomplete()
    with recorded_purge(context(2), warehouse, RAW_ARCHIVE) as counts:
        counts.folders_removed, counts.folders_failed = 1, 0
    assert purges(warehouse) == [
        (RAW_ARCHIVE, 1, "failed", 3, 1, "ArchivePurgeIncomplete: Could not remove 1 archived attempts"),
        (RAW_ARCHIVE, 2, "success", 1, 0, None),
    ]
    with connect_warehouse(warehouse) as conn:
        still_open = conn.query("SELECT alert_key FROM bol.alerts WHERE cleared_at IS NULL")
    assert still_open == [("retention:personal_store:overdue:never",)]  # only the archive was purged


def test_a_configuration_error_fails_at_once_and_is_recorded(warehouse: WarehouseTarget) -> None:
    with (
        pytest.raises(AirflowFailException, match="bolsync_accounts"),
        recorded_purge(context(), warehouse, PERSONAL_STORE),
    ):
        raise BolConfigError("Variable bolsync_accounts must be a non-empty list")
    assert purges(warehouse)[0][2] == "failed"
