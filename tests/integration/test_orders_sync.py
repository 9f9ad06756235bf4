"""The orders DAGs end to end: emulator over HTTP -> real Airflow task runs -> DuckDB, checked against
the emulator's own ground truth. ``test_orders_sync_postgres`` runs the same tests into PostgreSQL, so the
SQL here is the subset both engines speak."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.runs.windows import AMSTERDAM
from tests.support.airflow_env import query, run_dag, table_rows

pytestmark = pytest.mark.integration
ACCOUNTS = ["bol_shop_a", "bol_shop_b"]
STATE_COLUMNS = [
    "quantity",
    "quantity_shipped",
    "quantity_cancelled",
    "fulfilment_method",
    "fulfilment_status",
    "cancellation_request",
]


def _amsterdam_date(iso: str) -> date:
    return datetime.fromisoformat(iso).astimezone(AMSTERDAM).date()


def _daily_run_for(day: date) -> datetime:
    """A logical date whose inferred data interval is the Amsterdam day ``day``."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


def _warehouse_items(warehouse: Path, retailer_id: str) -> dict[str, dict]:
    columns = [
        "order_item_id",
        "order_id",
        "latest_changed_at",
        "unit_price",
        "product_title",
        *STATE_COLUMNS,
    ]
    rows = query(warehouse, f"SELECT {', '.join(columns)} FROM bol.order_items WHERE retailer_id = ?", [retailer_id])
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def _assert_matches_truth(warehouse: Path, emulator, conn_id: str, days: set[date]) -> int:
    from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS

    retailer_id = ACCOUNT_CONFIGS[conn_id].retailer_id
    stored = _warehouse_items(warehouse, retailer_id)
    expected = [t for t in emulator.truth(conn_id) if _amsterdam_date(t["latest_changed_at"]) in days]
    assert expected, "the emulator should have data in these days"
    for truth in expected:
        row = stored.get(truth["order_item_id"])
        assert row is not None, f"missing item {truth['order_item_id']}"
        for column in STATE_COLUMNS:
            assert row[column] == truth[column], (truth["order_item_id"], column, row[column], truth[column])
        assert row["latest_changed_at"] == datetime.fromisoformat(truth["latest_changed_at"])
        assert float(row["unit_price"]) == pytest.approx(truth["unit_price"])
        assert row["product_title"] == truth["product_title"]
    return len(expected)


@pytest.fixture(scope="module")
def backfilled(airflow_db, emulator, warehouse) -> set[date]:
    """A backfill of the last three full Amsterdam days through bol_orders_daily."""
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    days = {today - timedelta(days=n) for n in (1, 2, 3)}
    for day in sorted(days):
        assert run_dag("bol_orders_daily", _daily_run_for(day), ACCOUNTS) == "success"
    return days


def test_backfill_loads_every_item_of_the_window_at_its_latest_state(backfilled, emulator, warehouse) -> None:
    for conn_id in ACCOUNTS:
        assert _assert_matches_truth(warehouse, emulator, conn_id, backfilled) > 0
    duplicates = query(warehouse, "SELECT order_item_id FROM bol.order_items GROUP BY 1 HAVING count(*) > 1")
    assert duplicates == []
    from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS

    token_requests = emulator.stats()["token_requests"]
    for account in ACCOUNT_CONFIGS.values():  # one token per credential, shared through the Variable cache
        assert token_requests[account.client_id] == 1
    orphans = query(
        warehouse,
        "SELECT count(*) FROM bol.order_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM bol.orders o WHERE o.retailer_id = i.retailer_id AND o.order_id = i.order_id)",
    )
    assert orphans == [(0,)]


def test_no_personal_data_in_the_warehouse(backfilled, warehouse) -> None:
    columns = {
        row[0]
        for row in query(warehouse, "SELECT column_name FROM information_schema.columns WHERE table_schema='bol'")
    }
    for forbidden in (
        "first_name",
        "surname",
        "email",
        "street_name",
        "zip_code",
        "city",
        "phone",
        "vat_number",
    ):
        assert not any(forbidden in column for column in columns)


def test_sync_runs_audit_each_task(backfilled, warehouse) -> None:
    rows = query(
        warehouse,
        "SELECT task_id, status, api_calls, items_inserted FROM bol.sync_runs WHERE dag_id='bol_orders_daily'",
    )
    for step in ("check_auth", "extract", "load"):
        assert len([r for r in rows if r[0] == f"sync_account.{step}"]) == 3 * len(ACCOUNTS)
    assert all(status == "success" for _, status, _, _ in rows)
    assert sum(r[2] or 0 for r in rows if r[0] == "sync_account.extract") > 0


def test_rerun_changes_nothing_and_fetches_no_known_orders(backfilled, emulator, warehouse) -> None:
    before_items, before_orders = table_rows(warehouse, "order_items"), table_rows(warehouse, "orders")
    details_before = emulator.stats()["requests"].get("GET /retailer/orders/{order-id}", {})
    day = min(backfilled)
    assert run_dag("bol_orders_daily", _daily_run_for(day), ACCOUNTS) == "success"
    assert table_rows(warehouse, "order_items") == before_items
    assert table_rows(warehouse, "orders") == before_orders
    details_after = emulator.stats()["requests"].get("GET /retailer/orders/{order-id}", {})
    assert details_after == details_before


def test_world_changes_then_hourly_run(backfilled, emulator, warehouse) -> None:
    shipped = emulator.world("bol_shop_a", "ship", 3)["order_item_ids"]
    cancelled = emulator.world("bol_shop_a", "cancel", 2)["order_item_ids"]
    new = emulator.world("bol_shop_a", "new_orders", 4)["order_item_ids"]
    changed = {
        t["order_item_id"]: t
        for t in emulator.truth("bol_shop_a")
        if t["order_item_id"] in {*shipped, *cancelled, *new}
    }
    newest = max(datetime.fromisoformat(t["latest_changed_at"]) for t in changed.values())
    window_end = newest.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert run_dag("bol_orders_hourly", window_end + timedelta(minutes=1), ["bol_shop_a"]) == "success"
    from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS

    stored = _warehouse_items(warehouse, ACCOUNT_CONFIGS["bol_shop_a"].retailer_id)
    window_start = window_end - timedelta(hours=1)
    in_window = {i for i, t in changed.items() if datetime.fromisoformat(t["latest_changed_at"]) >= window_start}
    assert in_window  # the world changed just now, inside the hour being synced
    for item_id in in_window:
        for column in STATE_COLUMNS:
            assert stored[item_id][column] == changed[item_id][column]
    assert all(stored[i]["fulfilment_status"] == "HANDLED" for i in in_window & {*shipped, *cancelled})
    assert all(stored[i]["product_title"] for i in in_window & set(new))
    before = table_rows(warehouse, "order_items")
    assert run_dag("bol_orders_hourly", window_end + timedelta(minutes=1), ["bol_shop_a"]) == "success"
    assert table_rows(warehouse, "order_items") == before


def test_world_changes_then_15min_run_asks_bol_for_the_last_minutes_only(backfilled, emulator, warehouse) -> None:
    shipped = emulator.world("bol_shop_b", "ship", 2)["order_item_ids"]
    new = emulator.world("bol_shop_b", "new_orders", 3)["order_item_ids"]
    changed = {t["order_item_id"]: t for t in emulator.truth("bol_shop_b") if t["order_item_id"] in {*shipped, *new}}
    newest = max(datetime.fromisoformat(t["latest_changed_at"]) for t in changed.values())
    window_start = newest.replace(minute=newest.minute - newest.minute % 15, second=0, microsecond=0)
    window_end = window_start + timedelta(minutes=15)
    assert run_dag("bol_orders_15min", window_end + timedelta(minutes=1), ["bol_shop_b"]) == "success"
    from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS

    stored = _warehouse_items(warehouse, ACCOUNT_CONFIGS["bol_shop_b"].retailer_id)
    in_window = {i for i, t in changed.items() if datetime.fromisoformat(t["latest_changed_at"]) >= window_start}
    assert in_window  # the world changed just now, inside the quarter hour being synced
    for item_id in in_window:
        for column in STATE_COLUMNS:
            assert stored[item_id][column] == changed[item_id][column]
    extracts = query(
        warehouse,
        "SELECT queries, pages FROM bol.sync_runs WHERE dag_id = 'bol_orders_15min' AND task_id LIKE '%extract'",
    )
    assert [(q.split("=")[0], pages) for q, pages in extracts] == [("change-interval-minute", 1)]
    covered = query(
        warehouse, "SELECT window_start, window_end FROM bol.sync_coverage WHERE dag_id = 'bol_orders_15min'"
    )
    assert [(_utc(start), _utc(end)) for start, end in covered] == [(window_start, window_end)]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_window_older_than_three_months_fails_clearly(airflow_db, emulator, warehouse) -> None:
    old_day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=120)
    assert run_dag("bol_orders_daily", _daily_run_for(old_day), ["bol_shop_b"]) == "failed"
    errors = query(
        warehouse,
        "SELECT error FROM bol.sync_runs WHERE status = 'failed' AND window_start < now() - INTERVAL '100 days'",
    )
    assert errors
    assert "3 months of order history" in errors[0][0]


def test_token_cache_is_one_encrypted_masked_variable_per_connection(backfilled) -> None:
    from airflow.models.variable import Variable as VariableModel
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    from airflow.utils.session import create_session

    from bolsync_provider.auth.cache import variable_key
    from bolsync_provider.auth.tokens import AccessToken

    assert should_hide_value_for_key(variable_key("bol_shop_a"))
    with create_session() as session:
        keys = [variable_key(c) for c in ACCOUNTS]  # other modules of this worker may have cached their own
        rows = {v.key: v for v in session.query(VariableModel).filter(VariableModel.key.in_(keys))}
        assert set(rows) == set(keys)
        for row in rows.values():
            assert row.is_encrypted
            assert row._val.startswith("gAAAAA")  # a Fernet token (version byte 0x80), not readable JSON
            token = AccessToken.from_json(row.val)
            assert token is not None
            assert token.value.startswith("eyJ")
            assert token.value[:40] not in row._val  # (a bare "eyJ" can occur in base64 ciphertext by chance)


def test_no_secret_or_token_in_xcom(backfilled) -> None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS

    with create_session() as session:
        values = " ".join(str(x.value) for x in session.query(XComModel).filter(XComModel.dag_id == "bol_orders_daily"))
    assert values
    assert "eyJ" not in values
    for account in ACCOUNT_CONFIGS.values():
        assert account.client_secret not in values
