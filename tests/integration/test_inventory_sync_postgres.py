"""The inventory DAG end to end into PostgreSQL: every test of ``test_inventory_sync`` with ``bol_warehouse`` a
``postgres`` connection to a temporary database on the test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_inventory_sync as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixtures and tests, in the order the DuckDB module defines them (they build on each other).
env = same.env
test_the_first_run_equals_the_truth_and_covers_today = same.test_the_first_run_equals_the_truth_and_covers_today
test_a_rerun_changes_no_row = same.test_a_rerun_changes_no_row
test_stock_changes_land_and_only_their_rows_change = same.test_stock_changes_land_and_only_their_rows_change
test_transport_faults_are_absorbed_or_land_nothing = same.test_transport_faults_are_absorbed_or_land_nothing
test_an_odd_page_shape_fails_the_run_and_lands_nothing = same.test_an_odd_page_shape_fails_the_run_and_lands_nothing
test_a_bad_record_is_held_in_the_quarantine_and_the_rest_lands = (
    same.test_a_bad_record_is_held_in_the_quarantine_and_the_rest_lands
)
test_a_short_list_holds_its_deletions_alerts_once_and_keeps_the_snapshot_whole = (
    same.test_a_short_list_holds_its_deletions_alerts_once_and_keeps_the_snapshot_whole
)
test_the_confirmed_run_applies_them_and_a_complete_list_brings_them_back = (
    same.test_the_confirmed_run_applies_them_and_a_complete_list_brings_them_back
)
test_a_small_clear_out_is_checked_ean_by_ean_and_applied = same.test_a_small_clear_out_is_checked_ean_by_ean_and_applied
test_a_past_day_changes_nothing_and_says_so = same.test_a_past_day_changes_nothing_and_says_so
test_two_runs_at_once_give_the_tables_of_one = same.test_two_runs_at_once_give_the_tables_of_one


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_inventory_it") as url:
        warehouse_connection(url)
        yield as_target(url)


def test_the_warehouse_is_postgres(env: same.Inventory, warehouse: WarehouseTarget) -> None:
    assert warehouse.backend == "postgres"
