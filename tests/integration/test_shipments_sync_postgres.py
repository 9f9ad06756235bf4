"""The shipments DAGs end to end into PostgreSQL: the tests of ``test_shipments_sync``, in its order (they build
on each other), with ``bol_warehouse`` a ``postgres`` connection to a temporary database on the test server
(CI=true: a missing server fails the run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_shipments_sync as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

world = same.world
first_run = same.first_run
backfill = same.backfill
changed_run = same.changed_run
test_the_first_run_lands_its_window_with_a_detail_per_shipment = (
    same.test_the_first_run_lands_its_window_with_a_detail_per_shipment
)
test_a_three_month_backfill_reads_the_lists_once_and_lands_the_truth = (
    same.test_a_three_month_backfill_reads_the_lists_once_and_lands_the_truth
)
test_a_day_beyond_three_months_fails_with_a_clear_error = same.test_a_day_beyond_three_months_fails_with_a_clear_error
test_new_shipments_cost_a_page_per_list_and_one_detail_each = (
    same.test_new_shipments_cost_a_page_per_list_and_one_detail_each
)
test_the_daily_run_refreshes_the_transport_events_of_journeys_under_way = (
    same.test_the_daily_run_refreshes_the_transport_events_of_journeys_under_way
)
test_reruns_change_no_row = same.test_reruns_change_no_row
test_a_bad_shipment_is_quarantined_and_the_rest_lands = same.test_a_bad_shipment_is_quarantined_and_the_rest_lands


@pytest.fixture(scope="module")
def shipments_warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_shipments_it") as url:
        warehouse_connection(url)
        yield as_target(url)
