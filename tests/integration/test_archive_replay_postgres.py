"""``test_archive_replay`` into PostgreSQL: the same run, wipe, replay without calling bol, and the same
exact rows, with ``bol_warehouse`` a temporary database on the test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_archive_replay as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixtures and tests, in the order the DuckDB module defines them (they build on each other).
archive = same.archive
synced = same.synced
test_the_run_sets_lineage_and_archives_owner_only = same.test_the_run_sets_lineage_and_archives_owner_only
test_replay_restores_the_wiped_rows_without_calling_bol = same.test_replay_restores_the_wiped_rows_without_calling_bol
test_replay_names_the_days_the_archive_lacks = same.test_replay_names_the_days_the_archive_lacks
offers_env = same.offers_env
test_offers_replay_restores_the_day_without_calling_bol = same.test_offers_replay_restores_the_day_without_calling_bol
test_offers_replay_of_a_day_after_the_next_one_keeps_offers_and_restores_that_days_snapshot = (
    same.test_offers_replay_of_a_day_after_the_next_one_keeps_offers_and_restores_that_days_snapshot
)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_it") as url:
        warehouse_connection(url)
        yield as_target(url)
