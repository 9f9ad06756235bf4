"""The orders DAGs end to end into PostgreSQL: every test of ``test_orders_sync`` (the same exact-results
checks against the emulator's ground truth), with ``bol_warehouse`` a ``postgres`` connection to a
temporary database on the test server (CI=true: a missing server fails the run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_orders_sync as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixture and tests, in the order the DuckDB module defines them (they build on each other).
backfilled = same.backfilled
test_backfill_loads_every_item_of_the_window_at_its_latest_state = (
    same.test_backfill_loads_every_item_of_the_window_at_its_latest_state
)
test_no_personal_data_in_the_warehouse = same.test_no_personal_data_in_the_warehouse
test_sync_runs_audit_each_task = same.test_sync_runs_audit_each_task
test_rerun_changes_nothing_and_fetches_no_known_orders = same.test_rerun_changes_nothing_and_fetches_no_known_orders
test_world_changes_then_hourly_run = same.test_world_changes_then_hourly_run
test_world_changes_then_15min_run_asks_bol_for_the_last_minutes_only = (
    same.test_world_changes_then_15min_run_asks_bol_for_the_last_minutes_only
)
test_window_older_than_three_months_fails_clearly = same.test_window_older_than_three_months_fails_clearly
test_token_cache_is_one_encrypted_masked_variable_per_connection = (
    same.test_token_cache_is_one_encrypted_masked_variable_per_connection
)
test_no_secret_or_token_in_xcom = same.test_no_secret_or_token_in_xcom


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_it") as url:
        warehouse_connection(url)
        yield as_target(url)


def test_the_warehouse_is_postgres(backfilled, warehouse: WarehouseTarget) -> None:
    from tests.support.airflow_env import query

    assert warehouse.backend == "postgres"
    assert query(warehouse, "SELECT count(*) > 0 FROM bol.order_items") == [(True,)]
    assert query(warehouse, "SELECT current_setting('server_version_num')::int >= 130000") == [(True,)]
