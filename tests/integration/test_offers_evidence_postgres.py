"""``test_offers_evidence`` into PostgreSQL: the same short lists, holds, alerts and confirmations, with
``bol_warehouse`` a temporary database on the test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_offers_evidence as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixture and tests, in the order the DuckDB module defines them (they build on each other).
env = same.env
test_an_export_of_one_of_120_offers_flags_nothing_keeps_the_snapshot_and_alerts_once = (
    same.test_an_export_of_one_of_120_offers_flags_nothing_keeps_the_snapshot_and_alerts_once
)
test_the_confirmed_run_flags_them_deleted_and_a_complete_export_brings_them_back = (
    same.test_the_confirmed_run_flags_them_deleted_and_a_complete_export_brings_them_back
)
test_a_v11_full_sweep_cut_short_is_held_too_and_the_older_param_confirms = (
    same.test_a_v11_full_sweep_cut_short_is_held_too_and_the_older_param_confirms
)
test_deletions_below_the_limits_still_apply = same.test_deletions_below_the_limits_still_apply


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_evidence_it") as url:
        warehouse_connection(url)
        yield as_target(url)
