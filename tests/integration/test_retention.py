"""Retention on its own schedule, end to end: loads store and never purge; bol_retention purges the personal store
and the raw archive whatever the loads did and records each purge; an overdue purge is alerted by the checks that
start every sync run and by the coverage check DAG, and a successful purge ends the alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.archive.location import location_of
from bolsync.archive.reader import archived_attempts
from bolsync.archive.writer import STAMP
from bolsync.retention.overdue import PURGES_MIGRATION
from bolsync.warehouse.connection import WarehouseTarget, as_target, connect_warehouse
from bolsync_provider.budget.shared_state import shared_state
from tests.integration.test_personal_data_sync import FAST, personal_rows
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

ACCOUNT = "retention_shop"
SHOP = AccountConfig("ret-client", "ret-secret", "8000001")
RETENTION_DAYS = 1


@pytest.fixture(scope="module")
def env(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("retention")
    target = as_target(folder / "warehouse.duckdb")
    warehouse_connection(target)
    handle = start_emulator(EmulatorConfig(seed=21, accounts=[SHOP], orders_per_day=8, history_days=4, rate_scale=20.0))
    opt_in = {"store": True, "retention_days": RETENTION_DAYS}
    bol_connection(ACCOUNT, handle.base_url, SHOP.client_id, SHOP.client_secret, personal_data=opt_in, **FAST)
    with pytest.MonkeyPatch.context() as patch, SmtpSink() as sink:
        patch.setenv("AIRFLOW__BOLSYNC__ARCHIVE_URL", str(folder / "archive"))
        sink.use_as_alert_channel()
        for target_name in ("personal_store", "raw_archive"):  # this worker's shared state outlives modules
            shared_state().release_claim(f"retention:{target_name}:overdue:never")
        try:
            yield {"warehouse": target, "archive": folder / "archive", "sink": sink}
        finally:
            handle.stop()


def overdue_mails(sink: SmtpSink) -> list[str]:
    return [text.splitlines()[0] for text in sink.bodies() if "not purged for" in text.splitlines()[0]]


def expired(warehouse: WarehouseTarget) -> list[tuple]:
    """Personal rows of orders placed before the retention period."""
    cutoff = datetime.now(UTC) - timedelta(days=RETENTION_DAYS)
    return [row for row in personal_rows(warehouse) if row[6] < cutoff]


def age(folder: Path, days: int) -> Path:
    """The archived attempt renamed as if made ``days`` ago; its new path."""
    stamp = (datetime.now(UTC) - timedelta(days=days)).strftime(STAMP)
    return folder.rename(folder.with_name(stamp + folder.name[len(stamp) :]))


def test_loads_store_and_only_the_retention_dag_purges_and_an_overdue_purge_is_alerted(env: dict) -> None:
    warehouse: WarehouseTarget = env["warehouse"]
    sink: SmtpSink = env["sink"]
    day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=2)
    assert run_dag("bol_orders_daily", day, [ACCOUNT]) == "success"
    old = expired(warehouse)
    assert old
    assert all(row[3] is not None and row[7] is None for row in old)  # the load did not purge

    # The retention DAG never ran (paused, say) since this warehouse could record purges three days ago.
    with connect_warehouse(warehouse) as conn:
        conn.execute(
            "UPDATE bol.schema_migrations SET applied_at = ? WHERE version = ?",
            [datetime.now(UTC) - timedelta(days=3), PURGES_MIGRATION],
        )
    hourly = datetime.now(UTC) - timedelta(hours=2)
    run_dag("bol_orders_hourly", hourly, [ACCOUNT])
    assert sorted(overdue_mails(sink)) == [
        "[bolsync] personal store not purged for 3 days",
        "[bolsync] raw archive not purged for 3 days",
    ]
    open_alerts = query(warehouse, "SELECT alert_key FROM bol.alerts WHERE kind = 'retention' AND cleared_at IS NULL")
    assert sorted(key for (key,) in open_alerts) == [
        "retention:personal_store:overdue:never",
        "retention:raw_archive:overdue:never",
    ]
    run_dag("bol_orders_hourly", hourly - timedelta(hours=1), [ACCOUNT])
    assert len(overdue_mails(sink)) == 2  # one alert per episode

    location = location_of(str(env["archive"]))
    attempts = archived_attempts(location, "bol_orders_daily")
    assert attempts
    aged = age(Path(attempts[0].folder), days=40)
    assert aged.exists()

    due = expired(warehouse)
    assert len(due) >= len(old)
    assert all(row[3] is not None and row[7] is None for row in due)  # nor did the hourly loads

    assert run_dag("bol_retention", datetime.now(UTC), [ACCOUNT]) == "success"
    assert expired(warehouse)
    assert all(row[3] is None and row[2] is None and row[7] is not None for row in expired(warehouse))
    assert all(row[5] for row in expired(warehouse))  # the invoice data stays for the fiscal retention
    purges = query(
        warehouse,
        "SELECT target, status, retailers, contacts_purged, rows_deleted, folders_removed, folders_failed, location "
        "FROM bol.retention_purges ORDER BY target",
    )
    assert [row[:2] for row in purges] == [("personal_store", "success"), ("raw_archive", "success")]
    assert purges[0][2:5] == (1, len(due), 0)
    assert purges[0][7].endswith("warehouse.personal.duckdb: personal.order_customers")
    assert purges[1][5:8] == (1, 0, str(env["archive"]))
    assert not aged.exists()
    cleared = query(warehouse, "SELECT cleared_by FROM bol.alerts WHERE kind = 'retention'")
    assert [reason.split(":")[0] for (reason,) in cleared] == ["purge succeeded"] * 2

    run_dag("bol_orders_hourly", hourly - timedelta(hours=2), [ACCOUNT])
    assert len(overdue_mails(sink)) == 2  # purged on time again: nothing new

    # The archive purge then fails for three days: the nightly coverage check alerts too.
    with connect_warehouse(warehouse) as conn:
        conn.execute(
            "UPDATE bol.retention_purges SET finished_at = ? WHERE target = 'raw_archive'",
            [datetime.now(UTC) - timedelta(days=3)],
        )
    assert run_dag("bol_coverage_check", datetime.now(UTC), [ACCOUNT]) == "success"
    assert overdue_mails(sink)[2:] == ["[bolsync] raw archive not purged for 3 days"]
