"""The invoices DAG end to end into PostgreSQL: every test of ``test_invoices_sync`` (the same exact-results
checks against the emulator's ground truth), with ``bol_warehouse`` a ``postgres`` connection to a temporary
database on the test server (CI=true: a missing server fails the run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration import test_invoices_sync as same
from tests.support.airflow_env import warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration

# The same fixtures and tests, in the order the DuckDB module defines them (they build on each other).
invoice_emulator = same.invoice_emulator
world = same.world
weeks = same.weeks
backfilled = same.backfilled
test_a_backfill_of_past_weeks_lands_every_invoice_and_line = (
    same.test_a_backfill_of_past_weeks_lands_every_invoice_and_line
)
test_empty_weeks_are_logged_as_empty_periods_and_covered = same.test_empty_weeks_are_logged_as_empty_periods_and_covered
test_two_runs_of_the_last_week_at_once_land_it_once = same.test_two_runs_of_the_last_week_at_once_land_it_once
test_a_rerun_changes_no_row_and_reads_no_invoice_again = same.test_a_rerun_changes_no_row_and_reads_no_invoice_again
test_an_invoice_issued_now_lands_with_a_run_of_its_period = (
    same.test_an_invoice_issued_now_lands_with_a_run_of_its_period
)
test_an_unbalanced_invoice_is_held_and_alerted_once_while_the_rest_lands = (
    same.test_an_unbalanced_invoice_is_held_and_alerted_once_while_the_rest_lands
)
test_invoices_without_a_json_specification_are_recorded_and_reported_once = (
    same.test_invoices_without_a_json_specification_are_recorded_and_reported_once
)
test_transport_faults_are_absorbed_and_every_line_lands = same.test_transport_faults_are_absorbed_and_every_line_lands
test_an_odd_specification_page_lands_nothing_of_the_run_and_a_later_run_all = (
    same.test_an_odd_specification_page_lands_nothing_of_the_run_and_a_later_run_all
)
test_a_specification_on_pages_smaller_than_documented_is_read_whole = (
    same.test_a_specification_on_pages_smaller_than_documented_is_read_whole
)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_it_invoices") as url:
        warehouse_connection(url)
        yield as_target(url)
