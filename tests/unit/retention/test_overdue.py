"""The overdue-purge alert: per target, from the last successful purge or, never purged, from when purges
could first be recorded; it names the last error and ends with a successful purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bolsync.retention.overdue import OVERDUE_AFTER, PURGES_MIGRATION, overdue_alert, overdue_purges, read_overdue
from bolsync.retention.record import PERSONAL_STORE, RAW_ARCHIVE, PurgeCounts, purge_history, record_purge
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse

NOW = datetime.now(UTC)


def purge(conn, target: str, at: datetime, *, try_number: int = 1, error: str | None = None, **counts: int) -> None:
    ti = SimpleNamespace(dag_id="bol_retention", run_id=f"run_{at.isoformat()}", task_id=target, try_number=try_number)
    record_purge(
        conn,
        {"ti": ti},
        PurgeCounts(target, **counts),
        status="failed" if error else "success",
        started=at - timedelta(minutes=1),
        finished=at,
        error=error,
    )


def recorded_since(conn, at: datetime) -> None:
    conn.execute("UPDATE bol.schema_migrations SET applied_at = ? WHERE version = ?", [at, PURGES_MIGRATION])


def test_a_new_warehouse_is_not_overdue_before_the_retention_dag_had_its_chance(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        assert overdue_purges(conn, NOW) == []
        assert overdue_purges(conn, NOW + OVERDUE_AFTER - timedelta(minutes=5)) == []
        assert [o.history.target for o in overdue_purges(conn, NOW + OVERDUE_AFTER + timedelta(minutes=5))] == [
            PERSONAL_STORE,
            RAW_ARCHIVE,
        ]


def test_a_never_purged_warehouse_is_overdue_two_days_after_it_could_record_purges(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        recorded_since(conn, NOW - timedelta(days=3))
        alerts = read_overdue(conn)
    assert [a.key for a in alerts] == ["retention:personal_store:overdue:never", "retention:raw_archive:overdue:never"]
    assert alerts[0].subject == "[bolsync] personal store not purged for 3 days"
    assert "No successful purge of personal data" in alerts[0].body
    assert "ever" in alerts[0].body
    assert "bol_retention" in alerts[0].body
    assert {a.kind for a in alerts} == {"retention"}


def test_each_target_counts_from_its_own_last_success_and_names_its_last_error(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        recorded_since(conn, NOW - timedelta(days=30))
        purge(conn, PERSONAL_STORE, NOW - timedelta(days=4), contacts_purged=5)
        purge(conn, PERSONAL_STORE, NOW - timedelta(days=3), error="LockTimeout: the warehouse lock ...")
        purge(conn, PERSONAL_STORE, NOW - timedelta(days=2, hours=1), error="OSError: disk full")
        purge(conn, RAW_ARCHIVE, NOW - timedelta(hours=20), folders_removed=3)
        overdue = overdue_purges(conn, NOW)
        history = purge_history(conn, RAW_ARCHIVE)
    assert [o.history.target for o in overdue] == [PERSONAL_STORE]
    assert overdue[0].history.last_error == "OSError: disk full"
    alert = overdue_alert(overdue[0], NOW)
    assert alert.key == f"retention:personal_store:overdue:{overdue[0].history.last_success.isoformat()}"
    assert "disk full" in alert.body
    assert "not purged for 4 days" in alert.subject
    assert history.last_error is None


def test_a_rerun_of_the_same_try_replaces_its_row(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        purge(conn, RAW_ARCHIVE, NOW, error="OSError: permission denied")
        purge(conn, RAW_ARCHIVE, NOW, folders_removed=2, folders_failed=0)
        rows = conn.query("SELECT target, status, folders_removed, error FROM bol.retention_purges")
    assert rows == [(RAW_ARCHIVE, "success", 2, None)]
