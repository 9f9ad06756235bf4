"""Staging per extract attempt: two executions of one task instance (a zombie and its retry, a cleared task
still running) never share files, a retry reuses what an earlier attempt fetched, and a load removes its
folder and the sibling attempts no load can need any more, never one still in use. The tree is owner-only,
an extract first sweeps day-old orphans, locks time out naming their holder, and ids are safe folder names."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bolsync.orders.extract import DETAILS_FILE, LIST_FILE, extract_orders
from bolsync.personal.staging import PERSONAL_FILE
from bolsync.runs import staging
from bolsync.runs.staging import (
    EXTRACTED_MARKER,
    ORPHAN_AFTER,
    LockTimeout,
    NdjsonWriter,
    StagingGone,
    attempt_dirs,
    clean_up_after_load,
    new_attempt,
    prune_attempts,
    read_ndjson,
    reading_attempt,
    remove_attempt,
    sibling_attempts,
    staging_dir,
    sweep_orphans,
)
from bolsync.runs.windows import SyncWindow
from bolsync_provider.errors import BolConfigError

WINDOW = SyncWindow(datetime(2026, 11, 27, 9, tzinfo=UTC), datetime(2026, 11, 27, 10, tzinfo=UTC))
NOW = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)


class _Hook:
    bol_conn_id = "shop"
    retailer_id = "42"

    def get_retailer_id(self) -> str:
        return self.retailer_id

    def __init__(self, order_ids: list[str]) -> None:
        self.order_ids = order_ids
        self.detail_calls: list[str] = []

    def iter_order_pages(self, **_: object):
        yield [
            {"orderId": i, "orderItems": [{"orderItemId": f"{i}1", "latestChangedDateTime": "2026-11-27T09:30:00Z"}]}
            for i in self.order_ids
        ]

    def get_order(self, order_id: str) -> dict:
        self.detail_calls.append(order_id)
        return {"orderId": order_id, "orderItems": []}


def _run_dir(tmp_path: Path) -> Path:
    return staging_dir(tmp_path / "staging", "bol_orders_daily", "scheduled__2026-11-27T00:00:00+00:00", "shop")


def _extract(hook: _Hook, folder: Path):
    return extract_orders(hook, WINDOW, NOW, folder, lambda _r, _ids: set(), sibling_attempts(folder))  # type: ignore[arg-type]


def _crash_after_staging(run_dir: Path, *details: dict) -> None:
    """An extract attempt that stages ``details`` (full orders) and then dies."""
    with new_attempt(run_dir, 1) as folder, NdjsonWriter(folder / DETAILS_FILE, append=False) as staged:
        for order in details:
            staged.write(order)
        raise RuntimeError("killed mid-extract")


def _listed(folder: Path) -> list[str]:
    return [o["orderId"] for o in read_ndjson(folder / LIST_FILE)]


def test_two_executions_of_one_try_stage_apart_and_the_second_never_truncates_the_first(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    with new_attempt(run_dir, 1) as first:
        _extract(_Hook(["A", "B"]), first)
    # The first execution's load is reading its files while the second execution (same try number, e.g.
    # a zombie's twin, or another metadata database) extracts the same run.
    with reading_attempt(first, LIST_FILE):
        with new_attempt(run_dir, 1) as second:
            assert second != first
            assert second.parent == first.parent == run_dir
            _extract(_Hook(["C"]), second)
            assert _listed(first) == ["A", "B"]
        assert _listed(second) == ["C"]
        assert sorted(o["orderId"] for o in read_ndjson(first / DETAILS_FILE)) == ["A", "B"]
    assert attempt_dirs(run_dir) == [first, second]  # names sort by creation
    assert (first / EXTRACTED_MARKER).exists()
    assert (second / EXTRACTED_MARKER).exists()


def test_a_retry_reuses_details_an_earlier_attempt_staged(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    with pytest.raises(RuntimeError, match="killed mid-extract"):
        _crash_after_staging(run_dir, {"orderId": "B", "orderItems": []}, {"orderId": "OLD", "orderItems": []})
    (crashed,) = attempt_dirs(run_dir)
    assert not (crashed / EXTRACTED_MARKER).exists()

    hook = _Hook(["A", "B"])
    with new_attempt(run_dir, 2) as retry:
        result = _extract(hook, retry)
    assert hook.detail_calls == ["A"]
    assert (result.order_details_fetched, result.order_details_reused) == (1, 1)
    assert sorted(o["orderId"] for o in read_ndjson(retry / DETAILS_FILE)) == ["A", "B"]
    assert result.staging_dir == str(retry)
    assert "try2" in retry.name


def test_a_load_removes_its_folder_and_the_attempts_no_load_needs(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    with pytest.raises(RuntimeError, match="killed mid-extract"):
        _crash_after_staging(run_dir)
    (failed,) = attempt_dirs(run_dir)
    with new_attempt(run_dir, 2) as superseded:  # an earlier, finished extract of the run (rerun since)
        _extract(_Hook(["A"]), superseded)
    with new_attempt(run_dir, 3) as loaded:
        _extract(_Hook(["A"]), loaded)
    other_connection = _run_dir(tmp_path).with_name("shop2")
    with new_attempt(other_connection, 1) as elsewhere:
        _extract(_Hook(["X"]), elsewhere)

    with reading_attempt(loaded, LIST_FILE):
        pass  # the load
    clean_up_after_load(loaded)
    assert [p for p in (failed, superseded, loaded) if p.exists()] == []
    assert not run_dir.exists()  # empty, so removed; the run's folder holds another connection still
    assert elsewhere.exists()
    assert run_dir.parent.exists()


def test_attempts_in_use_or_of_a_concurrent_execution_are_kept(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    with new_attempt(run_dir, 1) as reading:  # finished before `loaded` was created: superseded by it ...
        _extract(_Hook(["A"]), reading)
    with new_attempt(run_dir, 2) as loaded:
        _extract(_Hook(["A"]), loaded)
        with new_attempt(run_dir, 2) as concurrent:  # finished while `loaded` was extracted
            _extract(_Hook(["A"]), concurrent)

    with new_attempt(run_dir, 3) as extracting:  # an extract still writing (not marked extracted yet)
        with reading_attempt(reading, LIST_FILE):  # ... but a load is reading it
            assert remove_attempt(reading) is False
            assert prune_attempts(loaded) == []
        assert all(p.exists() for p in (reading, extracting, concurrent))
        assert prune_attempts(loaded) == [reading]  # no longer in use
        assert extracting.exists()

    # Attempts that finished after `loaded` was created belong to a concurrent execution whose load may
    # still be due: kept until they are orphans.
    assert prune_attempts(loaded) == []
    assert prune_attempts(loaded, now=datetime.now(UTC) + ORPHAN_AFTER + timedelta(minutes=1)) == [
        concurrent,
        extracting,
    ]
    assert attempt_dirs(run_dir) == [loaded]


def test_a_load_whose_folder_was_removed_fails_clearly(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    with new_attempt(run_dir, 1) as folder:
        _extract(_Hook(["A"]), folder)
    assert remove_attempt(folder) is True
    with pytest.raises(StagingGone, match="clear the extract task"), reading_attempt(folder, LIST_FILE):
        pass


def test_finish_time_is_recorded(tmp_path: Path) -> None:
    with new_attempt(_run_dir(tmp_path), 1) as folder:
        pass
    finished = datetime.fromisoformat((folder / EXTRACTED_MARKER).read_text())
    assert abs((datetime.now(UTC) - finished).total_seconds()) < 60
    assert json.dumps(str(folder))  # a plain path: fit for XCom


# --- Owner-only files, orphan sweep, lock timeouts, removal failures, safe folder names ----------------------


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def test_the_staging_tree_is_owner_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    root = tmp_path / "staging"
    run_dir = _run_dir(tmp_path)
    with new_attempt(run_dir, 1) as folder:
        result = extract_orders(_Hook(["A", "B"]), WINDOW, NOW, folder, lambda _r, _ids: set(), personal_secret=b"k")  # type: ignore[arg-type]
        assert result.order_details_fetched == 2
        with NdjsonWriter(folder / "more.ndjson", append=True) as more:
            more.write({"a": 1})
    assert {LIST_FILE, DETAILS_FILE, PERSONAL_FILE, ".lock", EXTRACTED_MARKER} <= {p.name for p in folder.iterdir()}
    modes = _modes(root)
    folders = [root, *folder.parents[: len(folder.relative_to(root).parts) - 1], folder]
    assert {name: mode for name, mode in modes.items() if (root / name).is_dir()} == {
        str(p.relative_to(root)): 0o700 for p in folders
    }
    assert {mode for name, mode in modes.items() if (root / name).is_file()} == {0o600}


def test_existing_folders_below_the_root_are_made_owner_only_but_the_root_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "staging"
    run_dir = _run_dir(tmp_path)
    run_dir.parent.mkdir(parents=True)
    for loose in (root, run_dir.parent.parent, run_dir.parent):
        loose.chmod(0o755)
    with new_attempt(run_dir, 1) as folder:
        pass
    assert stat.S_IMODE(root.stat().st_mode) == 0o755  # maybe a shared folder ($BOLSYNC_STAGING_DIR)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (run_dir.parent.parent, run_dir.parent, run_dir, folder)} == {0o700}


def _planted_attempt(run_dir: Path, age: timedelta, *, finished_ago: timedelta | None = None) -> Path:
    """An attempt folder created ``age`` ago (as an extract would have left it, with a customer's data)."""
    created = datetime.now(UTC) - age
    folder = run_dir / f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-try1-0badf00d"
    folder.mkdir(parents=True)
    (folder / ".lock").touch()
    (folder / PERSONAL_FILE).write_text('{"order_id":"X","email_address":"klant@example.com"}\n')
    if finished_ago is not None:
        (folder / EXTRACTED_MARKER).write_text((datetime.now(UTC) - finished_ago).isoformat())
    return folder


def test_an_extract_first_removes_orphans_anywhere_below_the_root_but_not_held_or_young_ones(tmp_path: Path) -> None:
    root = tmp_path / "staging"
    day = ORPHAN_AFTER + timedelta(hours=1)
    old_failed = _planted_attempt(staging_dir(root, "bol_orders_hourly", "other_run", "shop"), day)
    old_loaded_never = _planted_attempt(staging_dir(root, "bol_offers_daily", "x", "shop2"), 2 * day, finished_ago=day)
    old_held = _planted_attempt(staging_dir(root, "bol_orders_hourly", "stuck_run", "shop"), day)
    finished_lately = _planted_attempt(
        staging_dir(root, "bol_orders_hourly", "slow_run", "shop"), day, finished_ago=timedelta(hours=1)
    )
    young_failed = _planted_attempt(staging_dir(root, "bol_orders_hourly", "retrying_run", "shop"), timedelta(hours=2))
    fd = os.open(old_held / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a stuck extract (or a load) still holds it
    try:
        with new_attempt(_run_dir(tmp_path), 1) as started:
            assert not old_failed.exists()
            assert not old_loaded_never.exists()
            assert not old_failed.parent.parent.exists()  # its run's folders, now empty, with it
            assert [p for p in (old_held, finished_lately, young_failed, started) if not p.exists()] == []
    finally:
        os.close(fd)
    assert sweep_orphans(root) == [old_held]  # no longer held


def _within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` on a daemon thread; the exception it raised (None: none). Fails if it still runs after
    ``seconds`` (the thread is left waiting)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        pytest.fail(f"still waiting after {seconds}s (a lock without a timeout)")
    return outcome[0]


def test_a_load_waits_for_a_held_staging_folder_only_until_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "STAGING_LOCK_TIMEOUT", timedelta(seconds=0.5))
    with new_attempt(_run_dir(tmp_path), 1) as writing:
        (writing / LIST_FILE).write_text("")

        def read() -> None:
            with reading_attempt(writing, LIST_FILE):
                pass

        error = _within(10, read)
    assert isinstance(error, LockTimeout)
    assert str(writing) in str(error)
    assert f"pid {os.getpid()} on " in str(error)  # who holds it, from its lock file
    assert "stuck task" in str(error)


def test_a_folder_that_cannot_be_removed_after_a_load_is_a_warning_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with new_attempt(_run_dir(tmp_path), 1) as folder:
        _extract(_Hook(["A"]), folder)
    real_rmdir = os.rmdir

    def refuse(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path) == str(folder):
            raise PermissionError(13, "Permission denied", str(path))
        real_rmdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "rmdir", refuse)
    with caplog.at_level(logging.WARNING, logger=staging.__name__):
        clean_up_after_load(folder)  # never raises: the data is loaded
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(folder) in message and "Permission denied" in message for message in warnings), warnings


@pytest.mark.parametrize("conn_id", ["../../etc", "a/b", ".", "..", "x" * 201, "", "shop\0"])
def test_an_unsafe_connection_id_is_a_config_error_naming_it(tmp_path: Path, conn_id: str) -> None:
    with pytest.raises(BolConfigError, match=re.escape(f"connection id {conn_id!r} cannot name a staging folder")):
        staging_dir(tmp_path, "bol_orders_daily", "run", conn_id)


def test_dag_and_run_ids_are_safe_folder_names_too(tmp_path: Path) -> None:
    with pytest.raises(BolConfigError, match=r"DAG id '\.\.' cannot name a staging folder"):
        staging_dir(tmp_path, "..", "run", "shop")
    folders = {
        run_id: staging_dir(tmp_path, "bol_orders_daily", run_id, "shop")
        for run_id in (
            "..",
            ".",
            "../../x",
            "manual__2026-11-27T00:00:00+00:00",
            "manual__2026-11-27T00:00:00-00:00",
            "r" * 400,
        )
    }
    for folder in folders.values():
        assert folder.parent.parent == tmp_path / "bol_orders_daily"
        assert folder.parent.name not in (".", "..")
        assert len(folder.parent.name) <= 200
    assert len({f.parent for f in folders.values()}) == len(folders)  # distinct runs never share a folder
    assert staging_dir(tmp_path, "d", "scheduled__2026", "shop") == tmp_path / "d" / "scheduled__2026" / "shop"


def test_a_lone_surrogate_bol_sent_is_staged_and_read_back_unchanged(tmp_path: Path) -> None:
    from bolsync.runs.staging import NdjsonWriter, read_ndjson

    record = {"orderId": "A1", "title": "Zoë \ud800 lamp 🙂", "ke\udc00y": [1, "\ud83d"]}
    with NdjsonWriter(tmp_path / "x.ndjson", append=False) as writer:
        writer.write(record)
    assert list(read_ndjson(tmp_path / "x.ndjson")) == [record]
