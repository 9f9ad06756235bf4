"""One task per account and night: auth check, extract and load in one try. The warehouse's lock is held
only while the load writes, never while bol is called; a failed load covers nothing and lands nothing, and
every step keeps its audit row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.duckdb_connection import held_by_this_process
from tests.support.airflow_env import query, run_dag

pytestmark = pytest.mark.integration
ACCOUNT = "bol_shop_a"


def _daily_logical_date(days_ago: int) -> datetime:
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=days_ago)
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


def _steps(warehouse: Path, day_start: str) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "SELECT task_id, try_number, status FROM bol.sync_runs WHERE dag_id = 'bol_orders_daily' AND conn_id = ? "
        "AND run_id IN (SELECT run_id FROM bol.sync_runs WHERE window_start = CAST(? AS TIMESTAMPTZ)) "
        "ORDER BY started_at",
        [ACCOUNT, day_start],
    )


def test_bol_is_never_called_while_the_warehouse_lock_is_held(
    airflow_db: None, emulator: Any, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bolsync.orders.stream as orders_stream

    calls: list[bool] = []
    loads: list[bool] = []
    send, load = requests.Session.send, orders_stream.load

    def watched_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        if "/_emulator/" not in str(request.url):
            calls.append(held_by_this_process(warehouse))
        return send(self, request, **kwargs)

    def watched_load(job: Any) -> Any:
        loads.append(held_by_this_process(warehouse))
        return load(job)

    monkeypatch.setattr(requests.Session, "send", watched_send)
    monkeypatch.setattr(orders_stream, "load", watched_load)

    assert run_dag("bol_orders_daily", _daily_logical_date(2), [ACCOUNT]) == "success"

    assert calls, "the sync called bol"
    assert not any(calls), f"{sum(calls)} of {len(calls)} bol calls were made holding the warehouse lock"
    assert loads == [True]  # the load itself runs under the lock


def test_a_failed_load_covers_nothing_lands_nothing_and_audits_every_step(
    airflow_db: None, emulator: Any, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    import bolsync.orders.stream as orders_stream

    def broken_load(job: Any) -> Any:
        raise AirflowFailException("the load broke")

    monkeypatch.setattr(orders_stream, "load", broken_load)
    logical = _daily_logical_date(4)
    day_start = (logical - timedelta(hours=12, days=1)).astimezone(UTC)
    orders_before = query(warehouse, "SELECT count(*) FROM bol.orders")

    assert run_dag("bol_orders_daily", logical, [ACCOUNT]) == "failed"

    assert _steps(warehouse, day_start.isoformat()) == [
        ("sync_account.check_auth", 1, "success"),
        ("sync_account.extract", 1, "success"),
        ("sync_account.load", 1, "failed"),
    ]
    covered = query(
        warehouse,
        "SELECT count(*) FROM bol.sync_coverage WHERE conn_id = ? AND window_start = CAST(? AS TIMESTAMPTZ)",
        [ACCOUNT, day_start.isoformat()],
    )
    assert covered == [(0,)]
    assert query(warehouse, "SELECT count(*) FROM bol.orders") == orders_before
