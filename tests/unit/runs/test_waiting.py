"""A long wait frees the worker: recorded as ``waiting`` (not failed), never alerted, no retry spent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred

from bolsync.runs import audit as audit_module
from bolsync.runs.waiting import MAX_RESCHEDULES, ResumeWith
from bolsync_provider.errors import BolRetryLater
from bolsync_provider.triggers.resume_at import ResumeAtTrigger

RESUME_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def alerts_sent(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(audit_module.alerts, "send", lambda alert, context: sent.append(alert))
    return sent


def _context(reschedules: int = 0) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="bol_orders_daily", run_id="r1", task_id="sync_account.extract", map_index=0, try_number=1, max_tries=3
    )
    return {"ti": ti, "task_reschedule_count": reschedules}


def _wait() -> BolRetryLater:
    return BolRetryLater("GET /retailer/orders -> HTTP 429: bol asks to wait 1800 s", resume_at=RESUME_AT)


def _rows(database: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database)) as db:
        return db.execute("SELECT try_number, status, error FROM bol.sync_runs").fetchall()


def test_a_long_wait_reschedules_the_task_is_recorded_as_waiting_and_not_alerted(
    tmp_path: Path, alerts_sent: list[Any]
) -> None:
    database = tmp_path / "warehouse.duckdb"
    with (
        pytest.raises(AirflowRescheduleException) as raised,
        audit_module.audited(_context(), database, {"conn_id": "bol_shop"}, None),  # type: ignore[arg-type]
    ):
        raise _wait()
    assert raised.value.reschedule_date == RESUME_AT
    assert alerts_sent == []
    [(try_number, status, error)] = _rows(database)
    assert (try_number, status) == (1, "waiting")
    assert error.startswith("BolRetryLater: GET /retailer/orders -> HTTP 429: bol asks to wait 1800 s")


def test_a_resumed_operator_defers_to_continue_where_it_was(tmp_path: Path, alerts_sent: list[Any]) -> None:
    event = {"status": "SUCCESS", "report_id": "r-1", "carry": {"conn_id": "bol_shop"}}
    with (
        pytest.raises(TaskDeferred) as raised,
        audit_module.audited(  # type: ignore[arg-type]
            _context(),
            tmp_path / "w.duckdb",
            {"conn_id": "bol_shop"},
            None,
            resume=ResumeWith("execute_complete", event),
        ),
    ):
        raise _wait()
    assert raised.value.method_name == "execute_complete"
    trigger = raised.value.trigger
    assert isinstance(trigger, ResumeAtTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "bolsync_provider.triggers.resume_at.ResumeAtTrigger"
    assert ResumeAtTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert (trigger.moment, trigger.payload) == (RESUME_AT, event)
    assert alerts_sent == []
    assert [row[1] for row in _rows(tmp_path / "w.duckdb")] == ["waiting"]


def test_the_resume_trigger_fires_with_the_event_once_the_moment_has_come() -> None:
    payload = {"status": "SUCCESS", "report_id": "r-1"}
    trigger = ResumeAtTrigger(datetime.now(UTC) + timedelta(seconds=0.1), payload)

    async def first() -> Any:
        async for event in trigger.run():
            return event
        return None

    assert asyncio.run(first()).payload == payload


def test_after_many_reschedules_the_wait_fails_the_try_like_a_retriable_error(
    tmp_path: Path, alerts_sent: list[Any]
) -> None:
    database = tmp_path / "warehouse.duckdb"
    with (
        pytest.raises(BolRetryLater),
        audit_module.audited(_context(MAX_RESCHEDULES), database, {"conn_id": "bol_shop"}, None),  # type: ignore[arg-type]
    ):
        raise _wait()
    assert [row[1] for row in _rows(database)] == ["failed"]
    assert alerts_sent == []  # tries are left (try 1 of 4): the alert comes with the last one
