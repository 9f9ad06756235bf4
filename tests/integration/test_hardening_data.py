"""Bad bol data through the real DAGs (emulator over HTTP, dag.test, PostgreSQL warehouse): every defect fails
with a clear, fatal error, is cleaned, is held (deletions) or holds just its record in the quarantine; a failed run
changes nothing.

- an offer export that is only a header (its deletions held: ``runs.evidence``), ends inside a line, or is
  shorter than its Content-Length;
- an empty v11 full sweep (also an empty first page that still names a next cursor), and incremental runs;
- control characters: removed from free text (it lands on PostgreSQL), refused in ids: that offer or order is
  held in bol.quarantine and the rest lands (no retries).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS
from tests.integration.test_offers_sync import OFFER_LIMITS, all_rows, assert_matches_truth, stored, truth
from tests.support.airflow_env import REPO, bol_connection, query, warehouse_connection
from tests.support.warehouses import temporary_postgres_database

pytestmark = pytest.mark.integration
SHOP = "bol_shop_a"
CLIENT = ACCOUNT_CONFIGS[SHOP].client_id
RETAILER = ACCOUNT_CONFIGS[SHOP].retailer_id
ORDER_LIMITS = {"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]}


@pytest.fixture(scope="module")
def warehouse() -> Iterator[WarehouseTarget]:
    with temporary_postgres_database("bolsync_hardening") as url:
        warehouse_connection(url)
        yield as_target(url)


@pytest.fixture(scope="module")
def env(airflow_db, emulator, warehouse: WarehouseTarget) -> Iterator[Any]:
    """The emulator ready for offer runs, and one export run of the shop: its offers are live."""
    from bolsync.runs import defaults
    from bolsync_provider.transport import retry

    patch = pytest.MonkeyPatch()
    patch.setitem(defaults.DEFAULT_ARGS, "retries", 1)
    patch.setitem(defaults.DEFAULT_ARGS, "retry_delay", timedelta(seconds=1))
    patch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.05)
    patch.setenv("AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS", "0.2")
    account = ACCOUNT_CONFIGS[SHOP]
    bol_connection(
        SHOP,
        emulator.url,
        account.client_id,
        account.client_secret,
        rate_limit_per_second=200,
        endpoint_rate_limits={**ORDER_LIMITS, **OFFER_LIMITS},
        max_attempts=2,
    )
    requests.post(f"{emulator.url}/_emulator/config", json={"export_pending_polls": 1}, timeout=10).raise_for_status()
    assert run_offers()[0] == "success"
    assert_matches_truth(warehouse, emulator, SHOP)
    yield emulator
    emulator.clear_faults()
    patch.undo()


@pytest.fixture
def faults(env) -> Iterator[Any]:
    yield env
    env.clear_faults()


def run_offers(**conf: object) -> tuple[str, str]:
    """One bol_offers_daily run for yesterday (Amsterdam) of the shop; its state and run id."""
    return _run("bol_offers_daily", datetime.now(UTC), conf)


def _run(dag_id: str, logical_date: datetime, conf: dict[str, object]) -> tuple[str, str]:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id]
    run = dag.test(logical_date=logical_date, run_conf={"accounts": [SHOP], **conf})
    return str(run.state), str(run.run_id)


def tries(warehouse: WarehouseTarget, run_id: str) -> list[tuple[str, int, str, str | None]]:
    """(task, try, status, error) of every audited try of a run, auth checks left out."""
    return query(
        warehouse,
        "SELECT task_id, try_number, status, error FROM bol.sync_runs WHERE run_id = ? "
        "AND task_id <> 'sync_account.check_auth' ORDER BY task_id, try_number",
        [run_id],
    )


def live(warehouse: WarehouseTarget) -> int:
    return query(warehouse, "SELECT count(*) FROM bol.offers WHERE retailer_id = ? AND NOT deleted", [RETAILER])[0][0]


def assert_failed_once(warehouse: WarehouseTarget, run_id: str, task: str, *phrases: str) -> None:
    """The run's ``task`` failed on its first try and was not retried; its error says ``phrases``."""
    failed = [row for row in tries(warehouse, run_id) if row[2] == "failed"]
    assert [(t, n) for t, n, _, _ in failed] == [(f"sync_account.{task}", 1)], failed
    for phrase in phrases:
        assert phrase in str(failed[0][3]), failed[0][3]


# --- 1: an empty or truncated offer list never flags offers deleted -----------------------------------------


def test_a_header_only_export_holds_its_deletions_and_changes_nothing(faults, warehouse) -> None:
    before = all_rows(warehouse)
    faults.fault(kind="export_file", defect="header_only", client_id=CLIENT)
    state, run_id = run_offers()
    assert state == "success"
    assert all_rows(warehouse) == before  # nothing flagged, the day's snapshot whole, no full sweep recorded
    assert live(warehouse) == len(truth(faults, SHOP)) > 0
    [(error,)] = query(
        warehouse, "SELECT error FROM bol.sync_runs WHERE run_id = ? AND task_id = 'sync_account.load'", [run_id]
    )
    assert "it names none of the" in error
    assert "confirm_deletions = true" in error


def test_a_confirmed_empty_export_flags_every_offer_deleted_and_a_full_one_restores_them(faults, warehouse) -> None:
    faults.fault(kind="export_file", defect="header_only", client_id=CLIENT)
    assert run_offers(confirm_empty=True)[0] == "success"
    assert live(warehouse) == 0
    assert run_offers()[0] == "success"
    assert_matches_truth(warehouse, faults, SHOP)


def test_an_export_ending_inside_its_last_line_fails_and_changes_nothing(faults, warehouse) -> None:
    before = all_rows(warehouse)
    faults.fault(kind="export_file", defect="short_row", client_id=CLIENT)
    state, run_id = run_offers()
    assert state == "failed"
    assert all_rows(warehouse) == before
    last = len(truth(faults, SHOP)) + 1
    assert_failed_once(warehouse, run_id, "extract", f"truncated offer export: line {last} has 6 fields")


def test_an_export_shorter_than_its_content_length_is_never_loaded(faults, warehouse) -> None:
    before = all_rows(warehouse)
    faults.fault(kind="export_file", defect="content_length", client_id=CLIENT, count=50)
    state, run_id = run_offers()
    assert state == "failed"
    assert all_rows(warehouse) == before
    audited = tries(warehouse, run_id)
    assert [(task, status) for task, _, status, _ in audited] == [("sync_account.extract", "failed")] * 2  # retried
    assert "cut off" in str(audited[-1][3]) or "IncompleteRead" in str(audited[-1][3])


def test_v11_full_sweep_whose_first_page_is_empty_but_names_a_next_one_follows_it(faults, warehouse) -> None:
    faults.fault(kind="v11_empty_pages", client_id=CLIENT)  # an empty first page that names a next page
    state, _ = run_offers(source="v11", full_sweep=True)
    assert state == "success"
    assert_matches_truth(warehouse, faults, SHOP, delivery_codes=False)


def test_v11_full_sweep_of_empty_pages_that_repeat_their_cursor_fails_and_flags_nothing(faults, warehouse) -> None:
    before = all_rows(warehouse)
    faults.fault(kind="v11_empty_pages", client_id=CLIENT, count=10)  # empty pages naming the same next page
    state, run_id = run_offers(source="v11", full_sweep=True)
    assert state == "failed"
    assert all_rows(warehouse) == before
    assert_failed_once(warehouse, run_id, "extract", "cursor", "a second time")


@pytest.mark.parametrize("next_cursor", [True, False])
def test_v11_incremental_run_of_empty_pages_changes_and_flags_nothing(faults, warehouse, next_cursor) -> None:
    faults.world(SHOP, "delete_offers", 1)  # gone at bol: only a full sweep may flag it
    flagged_before = [o for o, row in stored(warehouse, SHOP).items() if row.get("deleted")]
    before = all_rows(warehouse)
    del before["offer_sync_state"]  # the run records itself as a v11 sync
    faults.fault(kind="v11_empty_pages", client_id=CLIENT, next_cursor=next_cursor)
    state, run_id = run_offers(source="v11")
    assert state == "success"
    if not next_cursor:  # the empty page ends the list: nothing changes
        assert {table: rows for table, rows in all_rows(warehouse).items() if table in before} == before
    assert [o for o, row in stored(warehouse, SHOP).items() if row.get("deleted")] == flagged_before
    audit = "SELECT queries FROM bol.sync_runs WHERE run_id = ? AND task_id = 'sync_account.extract'"
    assert "incremental" in query(warehouse, audit, [run_id])[0][0]
    loaded = (
        "SELECT offers_listed, offers_deleted FROM bol.sync_runs WHERE run_id = ? AND task_id = 'sync_account.load'"
    )
    [(listed, deleted)] = query(warehouse, loaded, [run_id])
    assert deleted == 0
    if not next_cursor:  # the empty page ends the list; one naming a next page is followed
        assert listed == 0
    faults.clear_faults()
    assert run_offers(source="v11", full_sweep=True)[0] == "success"  # the full sweep sees the deletion
    assert_matches_truth(warehouse, faults, SHOP, delivery_codes=False)


def test_v11_full_sweep_with_an_empty_page_mid_list_never_flags_offers_bol_still_serves(faults, warehouse) -> None:
    faults.world(SHOP, "new_offers", 50)  # more than one page of 100
    try:
        assert run_offers()[0] == "success"  # all of them stored
        faults.fault(kind="v11_empty_pages", client_id=CLIENT, skip=1)  # page 2 is empty but names a next page
        run_offers(source="v11", full_sweep=True)  # may fail (an unreadable list); must not lose offers
        rows = stored(warehouse, SHOP)
        lost = [t["offer_id"] for t in truth(faults, SHOP) if rows.get(t["offer_id"], {}).get("deleted")]
        assert lost == []
    finally:
        faults.clear_faults()
        assert run_offers()[0] == "success"  # a full export puts the warehouse back in line with bol


# --- 2: control characters --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["export", "v11"])
def test_control_characters_in_offer_free_text_land_cleaned_on_postgres(faults, warehouse, source) -> None:
    first = truth(faults, SHOP)[0]["offer_id"]
    faults.fault(kind="offer_value", field="conditionComment", value="Dented\x00 box\tok\x1b", client_id=CLIENT)
    faults.fault(kind="offer_value", field="referenceCode", value="REF\x00-\x7f1", client_id=CLIENT)
    conf = {"source": source, "full_sweep": True} if source == "v11" else {}
    state, run_id = run_offers(**conf)
    assert state == "success"
    row = stored(warehouse, SHOP)[first]
    assert (row["condition_comment"], row["reference_code"]) == ("Dented box\tok", "REF-1")
    assert {status for _, _, status, _ in tries(warehouse, run_id)} == {"success"}


def test_a_control_character_in_an_offer_id_holds_that_line_and_flags_no_offer_deleted(faults, warehouse) -> None:
    live_before = live(warehouse)
    faults.fault(kind="offer_value", field="offerId", value="bad\x00id", client_id=CLIENT)
    state, run_id = run_offers()
    assert state == "success"
    assert {status for _, _, status, _ in tries(warehouse, run_id)} == {"success"}  # no retries
    assert live(warehouse) == live_before  # which offer the line is cannot be told: none is flagged deleted
    held = query(
        warehouse,
        "SELECT record_key, reason FROM bol.quarantine WHERE stream = 'offers' AND run_id = ? AND released_at IS NULL",
        [run_id],
    )
    [(key, reason)] = held
    assert key.startswith("unkeyed:")
    for phrase in ("export line 2, offerId", "U+0000", "never cleaned"):
        assert phrase in reason
    deleted = "SELECT offers_deleted, quarantined FROM bol.sync_runs WHERE run_id = ? AND task_id = 'sync_account.load'"
    assert query(warehouse, deleted, [run_id]) == [(0, 1)]
    faults.clear_faults()
    assert run_offers()[0] == "success"
    assert_matches_truth(warehouse, faults, SHOP)


def _daily_run_for(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


def _dirty_orders(monkeypatch: pytest.MonkeyPatch, change: Any) -> list[str]:
    """Let ``change`` alter the first item of every full order bol sends; returns the changed item ids."""
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    real = BolRetailerHook.get_order
    changed: list[str] = []

    def get_order(self: BolRetailerHook, order_id: str) -> dict:
        order = real(self, order_id)
        changed.append(str(order["orderItems"][0]["orderItemId"]))
        change(order["orderItems"][0])
        return order

    monkeypatch.setattr(BolRetailerHook, "get_order", get_order)
    return changed


def test_a_nul_in_a_product_title_lands_cleaned_on_postgres(env, warehouse, monkeypatch) -> None:
    def title(item: dict) -> None:
        item["product"]["title"] = "Zoë\x00 lamp\x07"

    changed = _dirty_orders(monkeypatch, title)
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=2)
    state, run_id = _run("bol_orders_daily", _daily_run_for(day), {})
    assert state == "success"
    assert changed
    titles = query(
        warehouse, "SELECT DISTINCT product_title FROM bol.order_items WHERE order_item_id = ANY(?)", [changed]
    )
    assert titles == [("Zoë lamp",)]
    assert {status for _, _, status, _ in tries(warehouse, run_id)} == {"success"}


def test_a_nul_in_an_order_item_id_holds_that_order_without_retries(env, warehouse, monkeypatch) -> None:
    def item_id(item: dict) -> None:
        item["orderItemId"] = f"{item['orderItemId']}\x00"

    changed = _dirty_orders(monkeypatch, item_id)
    day = datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=3)
    state, run_id = _run("bol_orders_daily", _daily_run_for(day), {})
    assert state == "success"
    assert changed
    assert {status for _, _, status, _ in tries(warehouse, run_id)} == {"success"}
    held = query(
        warehouse,
        "SELECT record_key, field, reason FROM bol.quarantine WHERE stream = 'orders' AND run_id = ? "
        "AND released_at IS NULL",
        [run_id],
    )
    assert len(held) == len(changed)  # every order whose full order came with the broken id, and only those
    for _, field, reason in held:
        assert field == "orderItems[0].orderItemId"
        for phrase in ("orderItemId", "U+0000", "never cleaned"):
            assert phrase in reason
    orders = [key for key, _, _ in held]
    landed = query(warehouse, "SELECT count(*) FROM bol.order_items WHERE order_id = ANY(?)", [orders])
    assert landed == [(0,)]


def test_the_module_ran_on_postgres(env, warehouse) -> None:
    assert warehouse.backend == "postgres"
    assert os.environ["AIRFLOW_CONN_BOL_WAREHOUSE"]
