"""The personal store's DuckDB file, its write-ahead log and the lock files are owner-only whatever the umask,
and a connection waits for another one's lock only until its timeout, with an error naming the holder."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.personal.store import connect_personal_store, personal_store_path
from bolsync.runs.staging import LockTimeout
from bolsync.warehouse import duckdb_connection
from bolsync.warehouse.connection import connect_warehouse
from bolsync.warehouse.duckdb_connection import open_duckdb
from tests.unit.personal.test_personal_store import _record

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def test_the_personal_duckdb_file_its_log_and_lock_are_owner_only(tmp_path: Path, umask: int) -> None:
    personal = personal_store_path(tmp_path / "warehouse.duckdb")
    with connect_personal_store(tmp_path / "warehouse.duckdb") as store:
        assert store.upsert("1", [_record("A1", 1), _record("A2", 2)], NOW) == 2
        wal = _beside(personal, ".wal")
        assert wal.stat().st_size > 0  # the rows are in the log until the connection closes
        assert {_mode(personal), _mode(wal), _mode(_beside(personal, ".lock"))} == {0o600}
    assert {_mode(personal), _mode(_beside(personal, ".lock"))} == {0o600}
    with connect_personal_store(tmp_path / "warehouse.duckdb") as store:  # the rows survived the log
        assert store.db.scalar(f"SELECT count(*) FROM {store.table}") == 2


def test_a_personal_file_an_earlier_version_left_readable_is_made_owner_only(tmp_path: Path) -> None:
    personal = personal_store_path(tmp_path / "warehouse.duckdb")
    with open_duckdb(personal) as raw:
        raw.execute("CREATE TABLE t (a INT)")
    for path in (personal, _beside(personal, ".lock")):
        path.chmod(0o644)
    with connect_personal_store(tmp_path / "warehouse.duckdb"):
        assert _mode(personal) == 0o600
    assert {_mode(personal), _mode(_beside(personal, ".lock"))} == {0o600}


def test_the_warehouse_lock_file_is_owner_only(tmp_path: Path, umask: int) -> None:
    with connect_warehouse(tmp_path / "warehouse.duckdb"):
        pass
    assert _mode(tmp_path / "warehouse.duckdb.lock") == 0o600


def test_a_held_warehouse_lock_times_out_with_an_error_naming_the_file_and_its_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duckdb_connection, "LOCK_TIMEOUT", timedelta(seconds=0.5))
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with connect_personal_store(tmp_path / "warehouse.duckdb"):
                outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    personal = personal_store_path(tmp_path / "warehouse.duckdb")
    with open_duckdb(personal):  # another task's connection (a second lock of the file conflicts in-process too)
        waiting = threading.Thread(target=connect, daemon=True)
        waiting.start()
        waiting.join(10)
        assert outcome, "still waiting for the lock after 10s: the lock has no timeout"
    error = outcome[0]
    assert isinstance(error, LockTimeout)
    assert f"warehouse lock {_beside(personal, '.lock')}" in str(error)
    assert f"pid {os.getpid()} on " in str(error)  # the holder, as it recorded itself
    assert "stuck task" in str(error)
    with connect_personal_store(tmp_path / "warehouse.duckdb"):  # free again once the holder let go
        pass
