"""The retention DAG purges the personal store by its data: contact details of a retailer whose account opted
out, or is no longer synced, are purged at once; an account still opted in keeps its retention. Both engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.warehouse.connection import as_target
from tests.integration.test_personal_data_sync import FAST, personal_rows
from tests.support.airflow_env import bol_connection, run_dag, warehouse_connection
from tests.support.warehouses import BACKENDS, temporary_postgres_database

pytestmark = pytest.mark.integration

OPTING_OUT = ("pii_ret_opting_out", AccountConfig("pii-ret-out", "pii-ret-secret-out", "5000011"))
REMOVED = ("pii_ret_removed", AccountConfig("pii-ret-removed", "pii-ret-secret-removed", "5000012"))
STAYING = ("pii_ret_staying", AccountConfig("pii-ret-staying", "pii-ret-secret-staying", "5000013"))
OPT_IN = {"store": True, "retention_days": 90}


def _connect(conn: tuple[str, AccountConfig], base_url: str, **extra: object) -> None:
    bol_connection(conn[0], base_url, conn[1].client_id, conn[1].client_secret, **FAST, **extra)


def _contacts(rows: list[tuple]) -> dict[str, tuple[int, int]]:
    """Per retailer: (rows, rows with contact details), from ``personal_rows``."""
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        total, with_contacts = counts.get(row[0], (0, 0))
        counts[row[0]] = (total + 1, with_contacts + (row[3] is not None and row[7] is None))
    return counts


@pytest.fixture(scope="module", params=BACKENDS)
def purged(
    request: pytest.FixtureRequest, airflow_db, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict, dict]]:
    """Personal rows per retailer after a nightly run of three opted-in accounts, then after a nightly run and a
    retention run in which one account opted out and one is no longer synced."""
    with temporary_postgres_database("bolsync_pii_ret") if request.param == "postgres" else nullcontext() as url:
        target = as_target(url or tmp_path_factory.mktemp("pii_ret") / "warehouse.duckdb")
        warehouse_connection(target)
        handle = start_emulator(
            EmulatorConfig(
                seed=5,
                accounts=[c[1] for c in (OPTING_OUT, REMOVED, STAYING)],
                orders_per_day=6,
                history_days=3,
                rate_scale=20.0,
            )
        )
        try:
            for conn in (OPTING_OUT, REMOVED, STAYING):
                _connect(conn, handle.base_url, personal_data=OPT_IN)
            today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
            everyone = [OPTING_OUT[0], REMOVED[0], STAYING[0]]
            assert run_dag("bol_orders_daily", today - timedelta(days=1), everyone) == "success"
            before = _contacts(personal_rows(target))
            _connect(OPTING_OUT, handle.base_url)  # personal_data removed: opted out
            assert run_dag("bol_orders_daily", today, [OPTING_OUT[0], STAYING[0]]) == "success"
            assert run_dag("bol_retention", today, [OPTING_OUT[0], STAYING[0]]) == "success"
            yield before, _contacts(personal_rows(target))
        finally:
            handle.stop()


def test_every_opted_in_account_stored_contact_details_first(purged: tuple[dict, dict]) -> None:
    before, _ = purged
    assert set(before) == {c[1].retailer_id for c in (OPTING_OUT, REMOVED, STAYING)}
    assert all(total > 0 and with_contacts == total for total, with_contacts in before.values())


def test_the_retention_run_purges_contacts_of_accounts_that_opted_out_or_are_no_longer_synced(
    purged: tuple[dict, dict],
) -> None:
    before, after = purged
    for gone in (OPTING_OUT, REMOVED):
        total, with_contacts = after[gone[1].retailer_id]
        assert total >= before[gone[1].retailer_id][0]  # the invoice data stays for the fiscal retention
        assert with_contacts == 0
    total, with_contacts = after[STAYING[1].retailer_id]
    assert total >= before[STAYING[1].retailer_id][0]
    assert with_contacts == total  # its 90 days apply: nothing purged
