"""The offers DAG end to end into PostgreSQL: every test of ``test_offers_sync`` with ``bol_warehouse`` a
``postgres`` connection to a temporary database on the test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_offers_sync as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixtures and tests, in the order the DuckDB module defines them (they build on each other).
offers_env = same.offers_env
exported = same.exported
test_export_run_matches_ground_truth = same.test_export_run_matches_ground_truth
test_rerun_of_the_day_changes_nothing = same.test_rerun_of_the_day_changes_nothing
test_world_change_then_rerun = same.test_world_change_then_rerun
test_a_new_column_and_a_shuffled_layout_are_read_by_header = (
    same.test_a_new_column_and_a_shuffled_layout_are_read_by_header
)
test_v11_incremental_and_full_sweep_flags_deletions = same.test_v11_incremental_and_full_sweep_flags_deletions
test_past_day_rerun_changes_nothing = same.test_past_day_rerun_changes_nothing


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_offers_it") as url:
        warehouse_connection(url)
        yield as_target(url)


def test_the_warehouse_is_postgres(exported, warehouse: WarehouseTarget) -> None:
    from tests.support.airflow_env import query

    assert warehouse.backend == "postgres"
    assert query(warehouse, "SELECT count(*) > 0 FROM bol.offer_snapshots") == [(True,)]
