"""One bad order never blocks its window, end to end: the emulator serves one full order with a quantity of
3,000,000,000 and another without a change time (the ``order_value`` fault) to a real ``bol_orders_daily`` run
over HTTP. The run is green, every other item of the day lands, both orders are held in bol.quarantine with
their reason, one alert goes out through a real SMTP server, the day's coverage row counts 2 and the coverage
check reports them; once bol serves them right, the next run of the day lands them and the quarantine is empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bolsync.runs.gaps import amsterdam_midnight
from bolsync.runs.windows import AMSTERDAM
from tests.integration.conftest import ACCOUNTS as ACCOUNT_CONFIGS
from tests.integration.test_orders_sync import STATE_COLUMNS, _amsterdam_date, _daily_run_for, _warehouse_items
from tests.support.airflow_env import REPO, query
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration
SHOP = "bol_shop_a"
CLIENT = ACCOUNT_CONFIGS[SHOP].client_id
RETAILER = ACCOUNT_CONFIGS[SHOP].retailer_id


def _run(dag_id: str, logical_date: datetime) -> tuple[str, str]:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id]
    run = dag.test(logical_date=logical_date, run_conf={"accounts": [SHOP]})
    return str(run.state), str(run.run_id)


def _returned(dag_id: str, run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.task_id == task_id)
            .filter(XComModel.key == "return_value")
            .one()
        )
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def day() -> date:
    return datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=2)


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_BOLSYNC_ALERTS", "")
        server.use_as_alert_channel()
        yield server


@pytest.fixture(scope="module")
def faulted(airflow_db, emulator, warehouse, sink: SmtpSink, day: date) -> Iterator[dict[str, Any]]:
    """One daily run of ``day`` while two of its orders carry odd values in their full order."""
    truth = [t for t in emulator.truth(SHOP) if _amsterdam_date(t["latest_changed_at"]) == day]
    big, timeless = sorted({t["order_id"] for t in truth})[:2]
    in_detail = {"kind": "order_value", "client_id": CLIENT, "where": "detail"}
    emulator.fault(**in_detail, order_id=big, field="orderItems.0.quantity", value=3_000_000_000)
    emulator.fault(**in_detail, order_id=timeless, field="orderItems.0.latestChangedDateTime", remove=True)
    sink.clear()
    state, run_id = _run("bol_orders_daily", _daily_run_for(day))
    yield {"state": state, "run_id": run_id, "truth": truth, "held": {big, timeless}, "mails": list(sink.bodies())}
    emulator.clear_faults()


def _assert_items_match(warehouse: Any, truth: list[dict], skip: set[str]) -> int:
    stored = _warehouse_items(warehouse, RETAILER)
    expected = [t for t in truth if t["order_id"] not in skip]
    for item in expected:
        row = stored.get(item["order_item_id"])
        assert row is not None, f"missing item {item['order_item_id']}"
        for column in STATE_COLUMNS:
            assert row[column] == item[column], (item["order_item_id"], column)
        assert row["latest_changed_at"] == datetime.fromisoformat(item["latest_changed_at"])
    return len(expected)


def _open(warehouse: Any) -> list[tuple]:
    return query(
        warehouse,
        "SELECT record_key, field, reason, raw_json FROM bol.quarantine WHERE stream = 'orders' AND conn_id = ? "
        "AND released_at IS NULL ORDER BY record_key",
        [SHOP],
    )


def test_the_run_is_green_and_every_other_item_of_the_day_lands(faulted, warehouse) -> None:
    assert faulted["state"] == "success"
    assert _assert_items_match(warehouse, faulted["truth"], faulted["held"]) >= 20
    placeholders = ", ".join("?" for _ in faulted["held"])
    landed = query(
        warehouse,
        f"SELECT count(*) FROM bol.order_items WHERE retailer_id = ? AND order_id IN ({placeholders})",
        [RETAILER, *sorted(faulted["held"])],
    )
    assert landed == [(0,)]  # nothing of a held order, not even its list entries


def test_both_orders_are_held_naming_the_reason(faulted, warehouse) -> None:
    held = {key: (field, reason, json.loads(raw)) for key, field, reason, raw in _open(warehouse)}
    assert set(held) == faulted["held"]
    quantity = next(h for h in held.values() if h[0] == "orderItems[0].quantity")
    changed = next(h for h in held.values() if h[0] == "orderItems[0].latestChangedDateTime")
    assert "quantity 3000000000 is outside INTEGER (-2147483648..2147483647)" in quantity[1]
    assert quantity[2]["orderItems"][0]["quantity"] == 3_000_000_000
    assert "latestChangedDateTime is missing" in changed[1]
    for _, _, raw in held.values():
        assert set(raw.get("shipmentDetails", {})) <= {"countryCode"}  # no customer data
        assert "billingDetails" not in raw
    runs = query(
        warehouse,
        "SELECT status, quarantined, error FROM bol.sync_runs WHERE run_id = ? AND task_id = 'sync_account.load'",
        [faulted["run_id"]],
    )
    assert [(status, count) for status, count, _ in runs] == [("success", 2)]
    assert "2 record(s) held in bol.quarantine" in runs[0][2]


def test_one_alert_names_both_orders(faulted) -> None:
    mails = [m for m in faulted["mails"] if "held in quarantine" in m.splitlines()[0]]
    assert len(mails) == 1
    assert mails[0].startswith(f"[bolsync] orders of {SHOP}: 2 record(s) held in quarantine")
    for order_id in faulted["held"]:
        assert f"- {order_id} (window " in mails[0]
    assert "it-secret-a" not in mails[0]
    assert [m for m in faulted["mails"] if "failed" in m.splitlines()[0]] == []


def test_the_day_is_covered_with_two_held_and_the_coverage_check_reports_them(faulted, warehouse, sink, day) -> None:
    covered = query(
        warehouse,
        "SELECT quarantined FROM bol.sync_coverage WHERE stream = 'orders' AND conn_id = ? AND window_start = ?",
        [SHOP, amsterdam_midnight(day)],
    )
    assert covered == [(2,)]
    sink.clear()
    state, run_id = _run("bol_coverage_check", datetime.now(UTC))
    assert state == "success"
    summary = _returned("bol_coverage_check", run_id, "check_coverage")
    assert summary[f"{SHOP}/orders"]["quarantined"] == 2
    assert [m for m in sink.bodies() if "held in quarantine" in m] == []  # alerted once, by the load


def test_once_bol_serves_them_right_the_next_run_lands_them_and_the_quarantine_is_empty(
    faulted, emulator, warehouse, day
) -> None:
    emulator.clear_faults()
    details = emulator.stats()["requests"].get("GET /retailer/orders/{order-id}", {}).get("200", 0)
    state, run_id = _run("bol_orders_daily", _daily_run_for(day))
    assert state == "success"
    assert emulator.stats()["requests"]["GET /retailer/orders/{order-id}"]["200"] - details == 2  # only the held
    assert _open(warehouse) == []
    assert _assert_items_match(warehouse, faulted["truth"], set()) == len(faulted["truth"])
    released = query(warehouse, "SELECT DISTINCT released_by_run_id FROM bol.quarantine WHERE conn_id = ?", [SHOP])
    assert released == [(run_id,)]
    covered = query(
        warehouse,
        "SELECT quarantined FROM bol.sync_coverage WHERE stream = 'orders' AND conn_id = ? AND window_start = ?",
        [SHOP, amsterdam_midnight(day)],
    )
    assert covered == [(0,)]
    state, check_id = _run("bol_coverage_check", datetime.now(UTC))
    assert _returned("bol_coverage_check", check_id, "check_coverage")[f"{SHOP}/orders"]["quarantined"] == 0


def test_a_known_order_held_by_its_list_entry_has_its_detail_fetched_again(faulted, emulator, warehouse, day) -> None:
    known = sorted({t["order_id"] for t in faulted["truth"]} - faulted["held"])[0]
    in_list = {"kind": "order_value", "client_id": CLIENT, "where": "list"}
    emulator.fault(**in_list, order_id=known, field="orderItems.0.quantityShipped", value="1")
    assert _run("bol_orders_daily", _daily_run_for(day))[0] == "success"
    assert [(key, field) for key, field, *_ in _open(warehouse)] == [(known, "orderItems[0].quantityShipped")]
    emulator.clear_faults()
    state, run_id = _run("bol_orders_daily", _daily_run_for(day))
    assert state == "success"
    assert _open(warehouse) == []
    # released only by a load that landed its full order again, though bol.orders had it all along
    released = "SELECT released_by_run_id FROM bol.quarantine WHERE conn_id = ? AND record_key = ?"
    assert query(warehouse, released, [SHOP, known]) == [(run_id,)]
    assert query(warehouse, "SELECT count(*) FROM bol.orders WHERE order_id = ?", [known]) == [(1,)]
    assert _assert_items_match(warehouse, faulted["truth"], set()) == len(faulted["truth"])
