"""A long ``Retry-After`` end to end: the real DAGs under ``dag.test`` against the emulator over HTTP.

With ``[bolsync] max_worker_wait_seconds`` at 1 s, a 429 asking for 4 s is longer than a task may hold its
worker. The orders extract is rescheduled (UP_FOR_RESCHEDULE, a ``task_reschedule`` row) and runs again in
the same try; the offers extract, resumed after its export wait, defers on a time trigger and downloads the
same export (no second export is requested). Either way: the run succeeds, no retry is spent, no alert is
sent, and the warehouse holds what the emulator holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bolsync.runs.windows import AMSTERDAM
from tests.integration.conftest import ACCOUNTS, Emulator
from tests.support.airflow_env import REPO, bol_connection, query, warehouse_connection
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

SHOP = "bol_shop_a"
RETRY_AFTER = 4
LIMITS = {
    "GET /retailer/orders": [400, 60],
    "GET /retailer/orders/{id}": [400, 1],
    "POST /retailer/offers/export": [400, 60],
    "GET /retailer/offers/export/{id}": [400, 60],
    "GET /shared/process-status/{id}": [400, 1],
}


@pytest.fixture
def world(airflow_db: None, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A reset emulator, fresh warehouse, staging and shared state, and a 1-second limit on worker waits."""
    from bolsync_provider.transport import retry

    requests_reset(emulator)
    for name in (f"AIRFLOW_CONN_{SHOP.upper()}", "AIRFLOW_CONN_BOL_WAREHOUSE", "AIRFLOW_CONN_BOLSYNC_ALERTS"):
        monkeypatch.setenv(name, "")  # restored after the test; set for real below
    account = ACCOUNTS[SHOP]
    bol_connection(SHOP, emulator.url, account.client_id, account.client_secret, endpoint_rate_limits=LIMITS)
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse_connection(warehouse)
    monkeypatch.setenv("BOLSYNC_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", f"sqlite:///{tmp_path / 'shared_state.sqlite'}")
    monkeypatch.setenv("AIRFLOW__BOLSYNC__MAX_WORKER_WAIT_SECONDS", "1")
    monkeypatch.setenv("AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS", "0.2")
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.05)
    _forget_cached_tokens()
    with SmtpSink() as sink:
        sink.use_as_alert_channel()
        yield warehouse, sink


def requests_reset(emulator: Emulator) -> None:
    emulator.handle.reset()


def _forget_cached_tokens() -> None:
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session

    from bolsync_provider.auth.cache import variable_key

    with create_session() as session:
        session.query(VariableModel).filter(VariableModel.key == variable_key(SHOP)).delete()


class TriggerWatch:
    """The classpaths of the triggers that appear in the metadata database while the block runs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="trigger-watch", daemon=True)

    def _watch(self) -> None:
        from airflow.models.trigger import Trigger
        from airflow.utils.session import create_session

        while not self._stop.wait(0.1):
            with create_session() as session:
                self.seen.update(classpath for (classpath,) in session.query(Trigger.classpath).all())

    def __enter__(self) -> TriggerWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _run(dag_id: str, logical_date: datetime) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id]
    return dag.test(logical_date=logical_date, run_conf={"accounts": [SHOP]})


def _task(run: Any, task_id: str) -> tuple[int, int]:
    """The try number of the run's (first mapped) task instance and how often it was rescheduled."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id).one()
        return ti.try_number, session.query(TaskReschedule).filter_by(ti_id=ti.id).count()


def _audit(warehouse: Path, run: Any, task_id: str) -> list[tuple[Any, ...]]:
    sql = "SELECT try_number, status, throttled FROM bol.sync_runs WHERE run_id = ? AND task_id = ?"
    return query(warehouse, sql, [run.run_id, task_id])


def test_a_long_retry_after_reschedules_the_orders_extract_without_spending_a_retry(
    world: tuple[Path, SmtpSink], emulator: Emulator
) -> None:
    warehouse, sink = world
    client = ACCOUNTS[SHOP].client_id
    emulator.fault(kind="burst_429", client_id=client, path_prefix="/retailer/orders", count=1, seconds=RETRY_AFTER)
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=2)
    logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)

    run = _run("bol_orders_daily", logical)

    assert str(run.state) == "success"
    assert _task(run, "sync_account.sync") == (1, 1)  # one reschedule, still the first try
    assert _audit(warehouse, run, "sync_account.extract") == [(1, "success", 0)]
    assert sink.messages == [], sink.bodies()
    stats = emulator.stats()
    assert stats["requests"]["GET /retailer/orders"]["429"] == 1
    start = datetime.combine(day, datetime.min.time(), AMSTERDAM)
    expected = {
        row["order_id"]
        for row in emulator.truth(SHOP)
        if start <= datetime.fromisoformat(row["latest_changed_at"]) < start + timedelta(days=1)
    }
    stored = query(warehouse, "SELECT order_id FROM bol.orders WHERE retailer_id = ?", [ACCOUNTS[SHOP].retailer_id])
    assert expected
    assert {order_id for (order_id,) in stored} == expected


def test_a_long_retry_after_on_the_export_download_resumes_the_same_export(
    world: tuple[Path, SmtpSink], emulator: Emulator
) -> None:
    warehouse, sink = world
    client = ACCOUNTS[SHOP].client_id
    emulator.fault(
        kind="burst_429", client_id=client, path_prefix="/retailer/offers/export/", count=1, seconds=RETRY_AFTER
    )

    with TriggerWatch() as triggers:
        run = _run("bol_offers_daily", datetime.now(UTC))

    assert str(run.state) == "success"
    assert "bolsync_provider.triggers.resume_at.ResumeAtTrigger" in triggers.seen  # the wait left the worker
    assert _task(run, "sync_account.extract") == (1, 0)  # deferred and resumed: no reschedule, no retry
    assert _audit(warehouse, run, "sync_account.extract") == [(1, "success", 0)]
    assert sink.messages == [], sink.bodies()
    requests = emulator.stats()["requests"]
    assert requests["POST /retailer/offers/export"] == {"202": 1}  # the same export, not a new one
    assert requests["GET /retailer/offers/export/{report-id}"] == {"429": 1, "200": 1}
    offers = query(warehouse, "SELECT count(*) FROM bol.offers WHERE retailer_id = ?", [ACCOUNTS[SHOP].retailer_id])
    assert offers[0][0] > 0
