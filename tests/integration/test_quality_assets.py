"""Through the real DAGs: the load's asset events carry row counts, and a passing load records no error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bolsync.runs import assets
from bolsync.runs.windows import AMSTERDAM
from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS
from tests.support.airflow_env import query, run_dag

pytestmark = pytest.mark.integration
ACCOUNTS = ["bol_shop_a", "bol_shop_b"]


def _asset_events(dag_id: str) -> list[tuple[str, str, dict]]:
    """(asset name, source run id, extra) of every asset event ``dag_id`` emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.source_run_id, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == dag_id)
        ).all()
    return [(name, run_id, dict(extra or {})) for name, run_id, extra in rows]


def _run_ids(dag_id: str) -> set[str]:
    return {run_id for _, run_id, _ in _asset_events(dag_id)}


@pytest.fixture(scope="module")
def daily_run(airflow_db, emulator, warehouse) -> set[str]:
    """The run ids of this module's daily run (other modules of the worker emit events too)."""
    before = _run_ids("bol_orders_daily")
    yesterday = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=1)
    logical = datetime.combine(yesterday + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
    assert run_dag("bol_orders_daily", logical, ACCOUNTS) == "success"
    return _run_ids("bol_orders_daily") - before


def test_the_load_emits_an_event_per_table_and_account_with_row_counts(daily_run, warehouse) -> None:
    assert len(daily_run) == 1
    events = [event for event in _asset_events("bol_orders_daily") if event[1] in daily_run]
    assert sorted({name for name, _, _ in events}) == sorted(a.name for a in assets.ORDERS_LOAD_OUTLETS)
    assert len(events) == 3 * len(ACCOUNTS)
    for conn_id in ACCOUNTS:
        retailer_id = ACCOUNT_CONFIGS[conn_id].retailer_id
        mine = {name: extra for name, _, extra in events if extra.get("conn_id") == conn_id}
        assert set(mine) == {"bol.orders", "bol.order_items", "bol.sync_runs"}
        for table in ("orders", "order_items"):
            [(rows,)] = query(warehouse, f"SELECT count(*) FROM bol.{table} WHERE retailer_id = ?", [retailer_id])
            extra = mine[f"bol.{table}"]
            assert extra["retailer_id"] == retailer_id
            assert extra["rows"] == rows > 0
            assert extra["inserted"] == rows  # a first load inserts every row
            assert extra["updated"] == 0
        # check_auth and extract wrote their rows before the load; the load's own comes after the event.
        assert mine["bol.sync_runs"]["run_rows"] == 2
    [(status, error)] = query(
        warehouse,
        "SELECT DISTINCT status, error FROM bol.sync_runs WHERE task_id LIKE ? AND dag_id = ?",
        ["%load", "bol_orders_daily"],
    )
    assert (status, error) == ("success", None)
