"""The raw archive end to end: a DAG run against the emulator archives what bol sent; after the warehouse
rows are wiped, ``python -m bolsync.replay`` brings them back exactly, without one request to bol."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync import replay
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, select_all
from tests.integration.test_offers_sync import offers_env, run_offers
from tests.integration.test_orders_sync import _daily_run_for
from tests.support.airflow_env import query, run_dag

pytestmark = pytest.mark.integration
__all__ = ["offers_env"]  # a fixture of test_offers_sync, used here
ACCOUNT = "bol_shop_a"
DAG = "bol_orders_daily"
#: Columns a replay writes anew: the insert time and the run that wrote the row.
REWRITTEN = ["first_synced_at", "synced_by_run_id"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An archive, and staging of this module's own (no order details shared with other modules' runs)."""
    root = tmp_path_factory.mktemp("raw") / "archive"
    staging = os.environ["BOLSYNC_STAGING_DIR"]
    os.environ["AIRFLOW__BOLSYNC__ARCHIVE_URL"] = str(root)
    os.environ["BOLSYNC_STAGING_DIR"] = str(root.with_name("staging"))
    yield root
    os.environ.pop("AIRFLOW__BOLSYNC__ARCHIVE_URL", None)
    os.environ["BOLSYNC_STAGING_DIR"] = staging


@pytest.fixture(scope="module")
def synced(airflow_db, emulator, warehouse, archive):
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=2)
    assert run_dag(DAG, _daily_run_for(day), [ACCOUNT]) == "success"
    return day


def _where(warehouse: Path | WarehouseTarget) -> str:
    """The warehouse as ``--warehouse`` takes it: a DuckDB file or a PostgreSQL URI."""
    return warehouse.dsn or str(warehouse) if isinstance(warehouse, WarehouseTarget) else str(warehouse)


def _rows(warehouse: Path | WarehouseTarget) -> list[list[tuple]]:
    with connect_warehouse(warehouse) as conn:
        return [select_all(conn, f"bol.{table}", exclude=REWRITTEN) for table in ("orders", "order_items")]


def test_the_run_sets_lineage_and_archives_owner_only(synced, warehouse, archive) -> None:
    ((run_id,),) = query(warehouse, "SELECT DISTINCT run_id FROM bol.sync_runs WHERE dag_id = ?", [DAG])
    for table in ("orders", "order_items"):
        lineage = query(warehouse, f"SELECT DISTINCT synced_by_dag_id, synced_by_run_id FROM bol.{table}")
        assert lineage == [(DAG, run_id)]
        assert query(warehouse, f"SELECT count(*) FROM bol.{table} WHERE extracted_at IS NULL") == [(0,)]
    files = [p for p in archive.rglob("*") if p.is_file()]
    assert {p.name for p in files} == {"responses.ndjson.gz", "manifest.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in archive.rglob("*") if p.is_dir())


def test_replay_restores_the_wiped_rows_without_calling_bol(synced, emulator, warehouse, archive, capsys) -> None:
    before = _rows(warehouse)
    assert before[1], "the emulator should have items that day"
    extracted = query(warehouse, "SELECT DISTINCT extracted_at FROM bol.order_items")
    with connect_warehouse(warehouse) as conn:
        conn.execute("DELETE FROM bol.order_items")
        conn.execute("DELETE FROM bol.orders")
    calls = emulator.stats()
    args = ["--dag", DAG, "--from", str(synced), "--to", str(synced), "--account", ACCOUNT]
    assert replay.main([*args, "--warehouse", _where(warehouse)]) == 0
    assert emulator.stats() == calls
    assert _rows(warehouse) == before
    assert query(warehouse, "SELECT DISTINCT extracted_at FROM bol.order_items") == extracted
    (replay_run,) = query(warehouse, "SELECT DISTINCT synced_by_run_id FROM bol.order_items")
    assert replay_run[0].startswith("replay__")
    audit = query(
        warehouse,
        "SELECT status, items_inserted, items_updated FROM bol.sync_runs WHERE run_id = ? AND task_id = 'replay'",
        [replay_run[0]],
    )
    assert audit == [("success", len(before[1]), 0)]
    assert "1 runs replayed" in capsys.readouterr().out

    with connect_warehouse(warehouse) as conn:
        everything = [select_all(conn, f"bol.{t}") for t in ("orders", "order_items")]
    assert replay.main([*args, "--warehouse", _where(warehouse)]) == 0  # idempotent: nothing changes
    with connect_warehouse(warehouse) as conn:
        assert [select_all(conn, f"bol.{t}") for t in ("orders", "order_items")] == everything
    assert emulator.stats() == calls


def test_replay_names_the_days_the_archive_lacks(synced, warehouse, capsys) -> None:
    earlier = synced - timedelta(days=1)
    args = ["--dag", DAG, "--from", str(earlier), "--to", str(synced), "--warehouse", _where(warehouse)]
    assert replay.main(args) == 1
    assert f"{ACCOUNT}: {earlier}" in capsys.readouterr().err


def _offer_rows(warehouse: Path | WarehouseTarget) -> list[list[tuple]]:
    with connect_warehouse(warehouse) as conn:
        return [
            select_all(conn, "bol.offers", exclude=["extra", "synced_by_run_id"]),  # PostgreSQL cannot sort JSON
            conn.query("SELECT offer_id, CAST(extra AS VARCHAR) FROM bol.offers ORDER BY 1"),
            select_all(conn, "bol.offer_snapshots", exclude=["synced_by_run_id"]),
            select_all(conn, "bol.offer_sync_state"),
        ]


def test_offers_replay_restores_the_day_without_calling_bol(offers_env, warehouse, archive) -> None:
    assert run_offers(datetime.now(UTC)) == "success"  # the export of yesterday (Amsterdam)
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=1)
    before = _offer_rows(warehouse)
    assert before[0], "the emulator should have offers"
    with connect_warehouse(warehouse) as conn:
        for table in ("offer_snapshots", "offers", "offer_sync_state"):
            conn.execute(f"DELETE FROM bol.{table}")
    calls = offers_env.stats()
    args = ["--dag", "bol_offers_daily", "--from", str(day), "--to", str(day), "--warehouse", _where(warehouse)]
    assert replay.main(args) == 0
    assert offers_env.stats() == calls
    assert _offer_rows(warehouse) == before


def test_offers_replay_of_a_day_after_the_next_one_keeps_offers_and_restores_that_days_snapshot(
    offers_env, warehouse, archive
) -> None:
    """Day D's offers were loaded, bol changed (new prices, a deletion, new offers), day D+1 loaded: replaying D
    leaves bol.offers exactly as it is and gives D's snapshot D's values, not today's."""
    from tests.integration.test_offers_sync import world

    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=1)
    assert run_offers(datetime.now(UTC)) == "success"  # day D (yesterday)
    day_snapshot = "SELECT * FROM bol.offer_snapshots WHERE snapshot_date = ? ORDER BY 1, 2"
    before_day = [row[:-3] for row in query(warehouse, day_snapshot, [day])]  # without the lineage columns
    changed = world(offers_env, "bol_shop_a", "change_offers", 5)
    deleted = world(offers_env, "bol_shop_a", "delete_offers", 1)
    world(offers_env, "bol_shop_a", "new_offers", 2)
    assert run_offers(datetime.now(UTC) + timedelta(days=1)) == "success"  # day D+1 (today)
    offers = _offer_rows(warehouse)[:2]
    prices = dict(query(warehouse, "SELECT offer_id, unit_price FROM bol.offers WHERE offer_id IN (?, ?)", changed[:2]))
    with connect_warehouse(warehouse) as conn:
        conn.execute("DELETE FROM bol.offer_snapshots WHERE snapshot_date = ?", [day])
    args = ["--dag", "bol_offers_daily", "--from", str(day), "--to", str(day), "--warehouse", _where(warehouse)]
    assert replay.main(args) == 0
    assert _offer_rows(warehouse)[:2] == offers
    assert (
        dict(query(warehouse, "SELECT offer_id, unit_price FROM bol.offers WHERE offer_id IN (?, ?)", changed[:2]))
        == prices
    )
    assert query(warehouse, "SELECT deleted FROM bol.offers WHERE offer_id = ?", deleted) == [(True,)]
    assert [row[:-3] for row in query(warehouse, day_snapshot, [day])] == before_day
