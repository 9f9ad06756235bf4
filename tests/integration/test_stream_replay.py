"""Replay through the shared stream machinery for a stream that was not built with it in mind: the FBB inventory
DAG archives what bol sent, the stream's rows are wiped, ``python -m bolsync.replay`` brings them back exactly,
without one request to bol, and a second replay changes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bolsync import replay
from bolsync.warehouse.connection import connect_warehouse, select_all
from tests.integration.test_inventory_sync import DAG, SHOP, Inventory, env, today

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the inventory module's fixture: its emulator, two shops and a first run
TABLES = ("inventory", "inventory_snapshots")
#: Columns a replay writes anew: the run that wrote the row.
REWRITTEN = ["synced_by_run_id", "first_synced_at"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.airflow_env import warehouse_connection

    path = tmp_path_factory.mktemp("stream-replay") / "warehouse.duckdb"
    warehouse_connection(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An archive and staging of this module's own, set before the inventory fixture's first run."""
    root = tmp_path_factory.mktemp("stream-raw") / "archive"
    staging = os.environ["BOLSYNC_STAGING_DIR"]
    os.environ["AIRFLOW__BOLSYNC__ARCHIVE_URL"] = str(root)
    os.environ["BOLSYNC_STAGING_DIR"] = str(root.with_name("staging"))
    yield root
    os.environ.pop("AIRFLOW__BOLSYNC__ARCHIVE_URL", None)
    os.environ["BOLSYNC_STAGING_DIR"] = staging


def _rows(warehouse: Path) -> list[list[tuple]]:
    with connect_warehouse(warehouse) as conn:
        return [select_all(conn, f"bol.{table}", exclude=REWRITTEN) for table in TABLES]


def test_replay_of_a_snapshot_stream_restores_the_wiped_rows_without_calling_bol(
    archive: Path, env: Inventory, warehouse: Path
) -> None:
    assert any(p.name == "responses.ndjson.gz" for p in archive.rglob("*")), "the run should have archived"
    before = _rows(warehouse)
    assert all(before), "the first run should have landed stock and a snapshot"
    with connect_warehouse(warehouse) as conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM bol.{table}")
    calls = env.calls()
    day = str(today())
    args = ["--dag", DAG, "--from", day, "--to", day, "--account", SHOP, "--warehouse", str(warehouse)]
    assert replay.main(args) == 0
    assert env.calls() == calls
    restored = _rows(warehouse)
    shop = [[row for row in table if row[0] == "5000001"] for table in before]
    assert restored == shop
    with connect_warehouse(warehouse) as conn:
        runs = {row[0] for row in conn.query("SELECT DISTINCT synced_by_run_id FROM bol.inventory")}
    assert len(runs) == 1
    assert runs.pop().startswith("replay__")

    assert replay.main(args) == 0  # idempotent
    assert _rows(warehouse) == restored
    assert env.calls() == calls
