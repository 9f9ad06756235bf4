"""Staging per extract attempt: two executions of one task instance (a zombie and its retry, a cleared task
still running) never share files, a retry reuses what an earlier attempt fetched, and a load removes its
folder and the sibling attempts no load can need any more, never one still in use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.orders.extract import DETAILS_FILE, LIST_FILE, extract_orders
from bolsync.runs.staging import (
    EXTRACTED_MARKER,
    ORPHAN_AFTER,
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
)
from bolsync.runs.windows import SyncWindow

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
