"""The returns DAGs end to end into PostgreSQL: the tests of ``test_returns_sync`` that touch the warehouse's SQL
(the first run, orders arriving later, changes between runs, reruns, a quarantined return, two runs at once), with
``bol_warehouse`` a ``postgres`` connection to a temporary database on the test server (CI=true: a missing server
fails the run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_returns_sync as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixtures and tests, in the order the DuckDB module defines them (they build on each other).
world = same.world
first_run = same.first_run
changed_run = same.changed_run
test_the_first_run_lands_the_emulators_truth = same.test_the_first_run_lands_the_emulators_truth
test_orders_synced_after_their_returns_fill_the_order_item_match = (
    same.test_orders_synced_after_their_returns_fill_the_order_item_match
)
test_returns_registered_and_handled_between_runs_and_a_late_handling_are_caught = (
    same.test_returns_registered_and_handled_between_runs_and_a_late_handling_are_caught
)
test_reruns_change_no_row = same.test_reruns_change_no_row
test_a_bad_return_is_quarantined_and_the_rest_lands = same.test_a_bad_return_is_quarantined_and_the_rest_lands
test_an_older_read_loaded_after_a_newer_one_changes_nothing = (
    same.test_an_older_read_loaded_after_a_newer_one_changes_nothing
)
test_two_runs_at_once_give_the_truth = same.test_two_runs_at_once_give_the_truth


@pytest.fixture(scope="module")
def returns_warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_returns_it") as url:
        warehouse_connection(url)
        yield as_target(url)
