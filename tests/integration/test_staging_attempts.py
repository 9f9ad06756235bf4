"""Staging per extract try through the real DAG: a retried extract stages beside the failed try (no shared
files), reuses the full orders the failed try fetched, and the load leaves no staging behind; an extract first
removes day-old attempts of any run that no process holds."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.orders.detail_exchange import FOLDER
from bolsync.orders.extract import DETAILS_FILE
from bolsync.personal.staging import PERSONAL_FILE
from bolsync.runs.staging import EXTRACTED_MARKER, ORPHAN_AFTER, read_ndjson, staging_dir
from bolsync.runs.windows import AMSTERDAM
from tests.support.airflow_env import query, run_dag

pytestmark = pytest.mark.integration
CONN = "bol_shop_a"
DETAIL = "GET /retailer/orders/{order-id}"
FAIL_AT_DETAIL = 6


def test_a_retried_extract_stages_apart_reuses_the_failed_trys_details_and_the_load_cleans_up(
    airflow_db, emulator, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolsync.runs import defaults
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    staging = tmp_path / "staging"
    monkeypatch.setenv("BOLSYNC_STAGING_DIR", str(staging))
    monkeypatch.setitem(defaults.DEFAULT_ARGS, "retry_delay", timedelta(seconds=1))
    real_get_order = BolRetailerHook.get_order
    calls: list[str] = []
    during_retry: dict[str, list[Path]] = {}

    def get_order_failing_once(self: BolRetailerHook, order_id: str) -> dict:
        calls.append(order_id)
        if len(calls) == FAIL_AT_DETAIL:
            raise RuntimeError("simulated crash in the middle of the extract")
        if len(calls) == FAIL_AT_DETAIL + 1:  # the retry's first fetch: both tries' folders exist
            during_retry["attempts"] = sorted(p for p in staging.rglob("*-try*") if p.is_dir())
        return real_get_order(self, order_id)

    monkeypatch.setattr(BolRetailerHook, "get_order", get_order_failing_once)
    before = int(emulator.stats()["requests"].get(DETAIL, {}).get("200", 0))
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=2)
    logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12, minutes=7)
    assert run_dag("bol_orders_daily", logical, [CONN]) == "success"

    failed, retry = during_retry["attempts"]
    assert "-try1-" in failed.name
    assert "-try2-" in retry.name
    assert failed.parent == retry.parent
    assert failed.parent.name == CONN
    assert not (failed / EXTRACTED_MARKER).exists()  # the failed try never finished
    extracts = query(
        warehouse,
        "SELECT try_number, status, orders_listed, order_details_fetched FROM bol.sync_runs "
        "WHERE task_id LIKE '%extract' ORDER BY try_number",
    )
    assert [(t, s) for t, s, _, _ in extracts] == [(1, "failed"), (2, "success")]
    listed, fetched_by_retry = extracts[1][2], extracts[1][3]
    # The retry fetched only what the failed try had not: every full order was fetched from bol once.
    assert fetched_by_retry == listed - (FAIL_AT_DETAIL - 1)
    assert int(emulator.stats()["requests"][DETAIL]["200"]) - before == listed
    assert query(warehouse, "SELECT count(*) FROM bol.orders")[0][0] == listed
    # The load removed its folder and the failed try's, and the run's folders with them.
    # (Details published for concurrent runs stay a while, in their own folder: detail_exchange.KEEP_FOR.)
    assert [p for p in staging.rglob("*") if p.is_file() and FOLDER not in p.parts] == []
    assert not failed.parent.exists()
    assert list(read_ndjson(failed / DETAILS_FILE)) == []


def _left_behind(run_dir: Path, age: timedelta) -> Path:
    """An attempt folder a failed extract left ``age`` ago, holding a customer's data."""
    folder = run_dir / f"{(datetime.now(UTC) - age).strftime('%Y%m%dT%H%M%S%fZ')}-try1-0badf00d"
    folder.mkdir(parents=True)
    (folder / ".lock").touch()
    (folder / PERSONAL_FILE).write_text('{"order_id":"X","email_address":"klant@example.com"}\n')
    return folder


def test_an_extract_first_removes_day_old_attempts_of_other_runs_that_no_process_holds(
    airflow_db, emulator, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = tmp_path / "staging"
    monkeypatch.setenv("BOLSYNC_STAGING_DIR", str(staging))
    old = ORPHAN_AFTER + timedelta(hours=1)
    orphan = _left_behind(staging_dir(staging, "bol_orders_hourly", "scheduled__2026-01-01", "bol_shop_b"), old)
    held = _left_behind(staging_dir(staging, "bol_orders_hourly", "scheduled__2026-01-02", "bol_shop_b"), old)
    young = _left_behind(staging_dir(staging, "bol_orders_daily", "scheduled__2026-01-03", CONN), timedelta(hours=1))
    fd = os.open(held / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a stuck task still holds it
    try:
        day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=4)
        logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
        assert run_dag("bol_orders_daily", logical, [CONN]) == "success"
    finally:
        os.close(fd)
    assert not orphan.exists()
    assert not orphan.parent.parent.exists()  # the run's folder, empty, with it
    assert held.exists()
    assert young.exists()  # a failed try's files stay for the run's retries
