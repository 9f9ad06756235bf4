"""Every DAG imports cleanly, without I/O, with the conventions the project promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pendulum
import pytest

from bolsync.offers.spec import SPEC as OFFERS
from bolsync.runs.defaults import API_POOL, WAREHOUSE_POOL
from bolsync.streams.registry import STREAMS

DAGS = Path(__file__).resolve().parents[2] / "dags"
#: Every DAG a stream names syncs it.
EXPECTED = {dag_id for spec in STREAMS.values() for dag_id in spec.dags}
HELPERS = {"bol_backfill_plan", "bol_coverage_check", "bol_retention"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), known_pools={API_POOL, WAREHOUSE_POOL, "default_pool"})


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED | HELPERS


def test_no_io_at_import_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("I/O at DAG import time")

    monkeypatch.setattr(Variable, "get", forbidden)
    monkeypatch.setattr(BaseHook, "get_connection", forbidden)
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_conventions(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.doc_md
    assert "bol" in dag.doc_md
    assert "bol" in dag.tags
    assert [name for name in STREAMS if name in dag.tags] == [
        spec.name for spec in STREAMS.values() if dag_id in spec.dags
    ]
    assert dag.catchup is False
    pools = {task.task_id: task.pool for task in dag.tasks}
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    if dag_id in OFFERS.dags:  # the offer export's wait is deferred between the extract and the load
        assert pools["sync_account.extract"] == API_POOL
        assert pools["sync_account.load"] == WAREHOUSE_POOL
        assert upstream["sync_account.extract"] == {"sync_account.check_auth"}  # one auth check gates each account
    else:  # one task per account: auth check, extract and load in one try
        assert sorted(pools) == ["list_accounts", "sync_account.sync"]
        assert pools["sync_account.sync"] == API_POOL
        assert upstream["sync_account.sync"] == {"list_accounts"}
        assert dag.get_task("sync_account.sync").outlets
    for task in dag.tasks:
        assert task.retries >= 1


def test_windows_are_half_open_quarter_hours_hours_and_amsterdam_days(dagbag) -> None:
    from airflow.timetables.base import DataInterval
    from airflow.timetables.interval import CronDataIntervalTimetable

    def core(dag_id: str) -> CronDataIntervalTimetable:
        sdk = dagbag.dags[dag_id].timetable
        return CronDataIntervalTimetable(sdk.expression, sdk.timezone)

    quarter = core("bol_orders_15min").infer_manual_data_interval(
        run_after=pendulum.datetime(2026, 11, 27, 10, 31, tz="UTC")
    )
    assert (quarter.start, quarter.end) == (
        datetime(2026, 11, 27, 10, 15, tzinfo=UTC),
        datetime(2026, 11, 27, 10, 30, tzinfo=UTC),
    )
    hourly = core("bol_orders_hourly")
    interval = hourly.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 27, 10, 30, tz="UTC"))
    assert (interval.start, interval.end) == (
        datetime(2026, 11, 27, 9, tzinfo=UTC),
        datetime(2026, 11, 27, 10, tzinfo=UTC),
    )
    daily = core("bol_orders_daily")
    interval = daily.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 27, 10, 30, tz="UTC"))
    assert isinstance(interval, DataInterval)
    assert interval.end - interval.start == timedelta(days=1)
    assert interval.start == datetime(2026, 11, 25, 23, tzinfo=UTC)  # 00:00 on 26 Nov in Amsterdam


def test_offers_dag_defers_the_export_wait_and_checks_quality(dagbag) -> None:
    from bolsync.offers.tasks import OffersExtractOperator

    dag = dagbag.dags["bol_offers_daily"]
    assert "offers" in dag.tags
    assert str(dag.timetable.timezone) == "Europe/Amsterdam"
    extract = dag.get_task("sync_account.extract")
    assert isinstance(extract, OffersExtractOperator)
    assert extract.deferrable
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    assert upstream["sync_account.load"] == {"sync_account.extract"}
    assert upstream["sync_account.check_quality"] == {"sync_account.load"}
    assert set(dag.params) >= {"accounts", "source", "full_sweep"}


def test_the_frequent_and_the_hourly_dag_say_what_they_cost(dagbag) -> None:
    frequent, hourly = dagbag.dags["bol_orders_15min"], dagbag.dags["bol_orders_hourly"]
    assert "every 15 minutes" in frequent.doc_md
    assert "change-interval-minute" in frequent.doc_md
    assert "Cost:" in frequent.doc_md
    assert "Cost:" in hourly.doc_md
    assert "whole Dutch day" in hourly.doc_md
    assert "bol_orders_15min" in hourly.doc_md
    assert "bol_orders_hourly" in frequent.doc_md
    assert {"orders", "15min"} <= set(frequent.tags)
