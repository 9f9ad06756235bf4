"""The shipments DAGs end to end: emulator over HTTP -> real Airflow task runs (``dag.test``) -> DuckDB, checked
against the emulator's ground truth (``/_emulator/accounts/{client}/shipments``, ``shipment-items``).
``test_shipments_sync_postgres`` runs them into PostgreSQL.

One world per module (95 days of orders), changed between the tests in file order: the first hourly run, a backfill
of bol's 3 months (one pass), a day beyond them, shipments and transport events between runs, the daily refresh of
transport events, reruns, a bad record, transport faults and an odd page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from dateutil.relativedelta import relativedelta

from bol_emulator import AccountConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget, as_target, connect_warehouse
from tests.benchmarks.streams import shipments as bench
from tests.support.airflow_env import bol_connection, query, run_dag, table_rows, warehouse_connection

pytestmark = pytest.mark.integration

SHOP = "bol_shipments_a"
ACCOUNT = AccountConfig("shp-client-a", "shp-secret-a", "7100001")
LIST = "GET /retailer/shipments"
DETAIL = "GET /retailer/shipments/{shipment-id}"
FAST = {
    "rate_limit_per_second": 400,
    "endpoint_rate_limits": {
        "GET /retailer/orders": [400, 60],
        "GET /retailer/orders/{id}": [400, 1],
        "GET /retailer/shipments": [400, 60],
        "GET /retailer/shipments/{id}": [1000, 1],
    },
}
TABLES = ("shipments", "shipment_items")
V10 = {"Content-Type": "application/vnd.retailer.v10+json"}
MARGIN_ENV = "AIRFLOW__BOLSYNC__SHIPMENTS_LISTING_MARGIN_MINUTES"


@dataclass
class World:
    handle: EmulatorHandle
    warehouse: WarehouseTarget
    base_hour: datetime

    @property
    def url(self) -> str:
        return self.handle.base_url

    def truth(self, table: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_emulator/accounts/{ACCOUNT.client_id}/{table}", timeout=30)
        response.raise_for_status()
        return response.json()

    def act(self, action: str, **body: Any) -> dict[str, Any]:
        payload = {"client_id": ACCOUNT.client_id, "action": action, **body}
        response = requests.post(f"{self.url}/_emulator/world", json=payload, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **body: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=body, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()

    def requests(self, endpoint: str) -> int:
        stats = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()["requests"]
        return sum(count for status, count in stats.get(endpoint, {}).items() if status == "200")

    def calls(self) -> tuple[int, int]:
        return self.requests(LIST), self.requests(DETAIL)

    def ship(self, count: int, **body: Any) -> list[str]:
        """Ship ``count`` open order items (all their open units) now; the new shipments' ids."""
        items = [t for t in self.truth("order-items")
                 if t["quantity"] - t["quantity_shipped"] - t["quantity_cancelled"] > 0]  # fmt: skip
        items.sort(key=lambda t: t["order_item_id"])
        assert len(items) >= count
        return [self.act("ship_item", order_item_id=t["order_item_id"], **body)["shipment_ids"][0]
                for t in items[:count]]  # fmt: skip


@pytest.fixture(scope="module")
def shipments_warehouse(tmp_path_factory: pytest.TempPathFactory) -> WarehouseTarget:
    """The warehouse under test (``bol_warehouse`` set to it)."""
    target = as_target(tmp_path_factory.mktemp("shipments") / "warehouse.duckdb")
    warehouse_connection(target)
    return target


@pytest.fixture(scope="module")
def world(airflow_db: None, shipments_warehouse: WarehouseTarget) -> Iterator[World]:
    handle = start_emulator(
        EmulatorConfig(seed=31, accounts=[ACCOUNT], orders_per_day=12, history_days=95, rate_scale=20.0)
    )
    bol_connection(SHOP, handle.base_url, ACCOUNT.client_id, ACCOUNT.client_secret, **FAST)
    # bol's clock is this machine's here (the emulator's): no listing margin is needed.
    previous = os.environ.get(MARGIN_ENV)
    os.environ[MARGIN_ENV] = "0"
    yield World(handle, shipments_warehouse, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    if previous is None:
        os.environ.pop(MARGIN_ENV, None)
    else:
        os.environ[MARGIN_ENV] = previous
    handle.stop()


def _hour(world: World, offset: int = 0) -> datetime:
    """A logical date whose hourly window ends ``offset`` hours after the world's first hour."""
    return world.base_hour + timedelta(hours=offset, minutes=5)


def _daily(day: date) -> datetime:
    """A logical date in the daily DAG's run of ``day``."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


def _today() -> date:
    return datetime.now(UTC).astimezone(AMSTERDAM).date()


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _listed(world: World, since: datetime | None = None) -> list[dict[str, Any]]:
    """The truth's shipments bol lists (its 3 months), shipped at ``since`` or later."""
    oldest = _today() - relativedelta(months=3)
    return [
        t
        for t in world.truth("shipments")
        if _utc(t["shipped_at"]).astimezone(AMSTERDAM).date() >= oldest  # type: ignore[union-attr]
        and (since is None or _utc(t["shipped_at"]) >= since)  # type: ignore[operator]
    ]


def _pages(shipments: list[dict[str, Any]]) -> int:
    """List calls that read these shipments to the list's end: a page per 50 and method, plus the last one."""
    return sum(sum(1 for t in shipments if t["fulfilment_method"] == m) // 50 + 1 for m in ("FBR", "FBB"))


def assert_tables_equal_truth(
    world: World,
    since: datetime | None = None,
    held: frozenset[str] = frozenset(),
    events: bool = True,
    exact: bool = False,
) -> None:
    """bol.shipments and bol.shipment_items equal the emulator's truth of the shipments bol lists (but those in
    ``held``): every row, every column both know; ``events``: the transport events too (``exact``: all that bol
    has now; else those bol had told when the detail was read, a prefix of them). With ``since``: every shipment
    shipped since then is stored, and every stored one equals the truth."""
    truth = {t["shipment_id"]: t for t in world.truth("shipments") if t["shipment_id"] not in held}
    listed = {t["shipment_id"] for t in _listed(world)} - held
    due = {t["shipment_id"] for t in _listed(world, since)} - held
    stored = query(
        world.warehouse,
        "SELECT shipment_id, shipped_at, shipment_reference, fulfilment_method, order_id, order_placed_at, "
        "pickup_point, transport_id, transporter_code, track_and_trace, shipping_label_id, transport_events, "
        "latest_event_code FROM bol.shipments WHERE retailer_id = ?",
        [ACCOUNT.retailer_id],
    )
    landed = {row[0] for row in stored}
    if since is None:  # every shipment bol lists; those it stopped listing since (3 months old) are kept
        assert listed <= landed <= set(truth)
        oldest = _today() - relativedelta(months=3)
        assert all(_utc(truth[key]["shipped_at"]).astimezone(AMSTERDAM).date() < oldest  # type: ignore[union-attr]
                   for key in landed - listed)  # fmt: skip
    else:  # every shipment since then, and others of the pages read
        assert due <= landed <= listed
    for row in stored:
        t = truth[row[0]]
        assert row[1:11] == (
            _utc(t["shipped_at"]), t["shipment_reference"], t["fulfilment_method"], t["order_id"],
            _utc(t["order_placed_at"]), t["pickup_point"], t["transport_id"], t["transporter_code"],
            t["track_and_trace"], t["shipping_label_id"],
        )  # fmt: skip
        if events:
            told = [
                {"event_code": e["event_code"], "event_at": _utc(e["event_at"]).isoformat()}  # type: ignore[union-attr]
                for e in t["transport_events"]
            ]
            kept = json.loads(row[11])
            if exact:
                assert kept == told
            else:  # as bol told them when the detail was read: bol appends events, the emulator's journeys go on
                assert kept == told[: len(kept)]
            if len(kept) == len(told):
                assert row[12] == t["latest_event_code"]
    items = query(
        world.warehouse,
        "SELECT shipment_id, order_item_id, order_id, ean, quantity, quantity_ordered, unit_price, commission, "
        "fulfilment_method FROM bol.shipment_items WHERE retailer_id = ?",
        [ACCOUNT.retailer_id],
    )
    expected = [t for t in world.truth("shipment-items") if t["shipment_id"] in landed]
    assert sorted((*r[:6], round(float(r[6]), 2), round(float(r[7]), 2), r[8]) for r in items) == sorted(
        (t["shipment_id"], t["order_item_id"], t["order_id"], t["ean"], t["quantity"], t["quantity_ordered"],
         round(t["unit_price"], 2), round(t["commission"], 2), t["fulfilment_method"])
        for t in expected
    )  # fmt: skip


@pytest.fixture(scope="module")
def first_run(world: World) -> dict[str, Any]:
    """The first hourly run: both lists down to its window's start, a detail per shipment read."""
    before = world.calls()
    assert run_dag("bol_shipments_hourly", _hour(world), [SHOP]) == "success"
    lists, details = (after - then for after, then in zip(world.calls(), before, strict=True))
    return {"lists": lists, "details": details, "since": world.base_hour - timedelta(hours=1)}


def test_the_first_run_lands_its_window_with_a_detail_per_shipment(world: World, first_run: dict[str, Any]) -> None:
    assert_tables_equal_truth(world, first_run["since"])
    stored = query(world.warehouse, "SELECT fulfilment_method, count(*) FROM bol.shipments GROUP BY 1")
    assert first_run["details"] == sum(count for _, count in stored)  # each shipment of the pages read, once
    assert first_run["lists"] == sum(count // 50 + (0 if count % 50 == 0 else 1) for _, count in stored)
    scans = query(world.warehouse, "SELECT count(*) FROM bol.shipment_scans")
    assert scans == [(2,)]


@pytest.fixture(scope="module")
def backfill(world: World, first_run: dict[str, Any]) -> dict[str, Any]:
    """A backfill of bol's 3 months as Airflow runs it: the oldest day first, then the next ones."""
    oldest = _today() - relativedelta(months=3)
    listed = _listed(world)
    before = world.calls()
    runs = []
    for day in (oldest, oldest + timedelta(days=1), oldest + timedelta(days=2)):
        runs.append(run_dag("bol_shipments_daily", _daily(day), [SHOP]))
        if len(runs) == 1:
            first = world.calls()
    after = world.calls()
    lists, details = (now - then for now, then in zip(after, before, strict=True))
    return {"states": runs, "lists": lists, "details": details, "after_first": first, "after": after,
            "oldest": oldest, "listed": listed}  # fmt: skip


def test_a_three_month_backfill_reads_the_lists_once_and_lands_the_truth(
    world: World, first_run: dict[str, Any], backfill: dict[str, Any]
) -> None:
    assert backfill["states"] == ["success"] * 3
    assert_tables_equal_truth(world)
    listed = backfill["listed"]
    assert len(listed) > 500
    assert backfill["lists"] == _pages(listed)  # one pass down both lists to their end
    assert backfill["details"] == len(listed) - first_run["details"]  # the first run's details not read again
    assert backfill["after"] == backfill["after_first"]  # its later days read nothing
    covered = query(world.warehouse, "SELECT count(*) FROM bol.sync_coverage WHERE stream = 'shipments' "
                    "AND dag_id = 'bol_shipments_daily'")  # fmt: skip
    assert covered == [(3,)]


def test_a_day_beyond_three_months_fails_with_a_clear_error(world: World, backfill: dict[str, Any]) -> None:
    before = world.calls()
    assert run_dag("bol_shipments_daily", _daily(backfill["oldest"] - timedelta(days=1)), [SHOP]) == "failed"
    assert world.calls() == before
    errors = query(world.warehouse, "SELECT error FROM bol.sync_runs WHERE dag_id = 'bol_shipments_daily' "
                   "AND status = 'failed'")  # fmt: skip
    assert any("last 3 months only" in str(error) for (error,) in errors), errors


@pytest.fixture(scope="module")
def changed_run(world: World, backfill: dict[str, Any]) -> dict[str, Any]:
    """Between two hourly runs: three items shipped (one by letter post) and two parcels' journeys moved on."""
    truth_before = bench.Truth.fetch(world.url, ACCOUNT.client_id)
    new = world.ship(2) + world.ship(1, transporter_code="BRIEFPOST")
    moved = world.act("transport_event", count=2)["shipment_ids"]
    before = world.calls()
    assert run_dag("bol_shipments_hourly", _hour(world, 1), [SHOP]) == "success"
    lists, details = (after - then for after, then in zip(world.calls(), before, strict=True))
    after = bench.Truth.fetch(world.url, ACCOUNT.client_id)
    return {
        "new": new, "moved": moved, "lists": lists, "details": details,
        "fewest": bench.fewest_calls(truth_before, after, events=False), "naive": bench.naive_calls(after),
    }  # fmt: skip


def test_new_shipments_cost_a_page_per_list_and_one_detail_each(world: World, changed_run: dict[str, Any]) -> None:
    assert changed_run["lists"] == 2
    assert changed_run["details"] == 3
    assert changed_run["fewest"] == {bench.LIST_ENDPOINT: 0, bench.DETAIL_ENDPOINT: 3}  # details: the fewest
    assert changed_run["naive"][bench.DETAIL_ENDPOINT] > 1000
    assert_tables_equal_truth(world, events=False)
    truth = {t["shipment_id"]: len(t["transport_events"]) for t in world.truth("shipments")}
    for shipment_id in changed_run["moved"]:  # the hourly run does not re-read a detail it holds
        stored = query(world.warehouse, "SELECT event_count FROM bol.shipments WHERE shipment_id = ?", [shipment_id])
        assert stored == [(truth[shipment_id] - 1,)]
    letter = query(world.warehouse, "SELECT transporter_code, track_and_trace, journey_ended FROM bol.shipments "
                   "WHERE shipment_id = ?", [changed_run["new"][2]])  # fmt: skip
    assert letter == [("BRIEFPOST", None, True)]


def test_the_daily_run_refreshes_the_transport_events_of_journeys_under_way(
    world: World, changed_run: dict[str, Any]
) -> None:
    with connect_warehouse(world.warehouse) as conn:  # a day passes since the details were read
        conn.execute("UPDATE bol.shipments SET detail_read_at = detail_read_at - INTERVAL '1 day'")
    under_way = query(world.warehouse, "SELECT count(*) FROM bol.shipments WHERE NOT journey_ended "
                      "AND shipped_at >= ?", [datetime.now(UTC) - timedelta(days=14)])[0][0]  # fmt: skip
    before = world.calls()
    assert run_dag("bol_shipments_daily", _daily(_today() - timedelta(days=1)), [SHOP]) == "success"
    assert world.calls() == (before[0], before[1] + under_way)  # no list: the day was read already
    assert_tables_equal_truth(world, exact=True)


def test_reruns_change_no_row(world: World, changed_run: dict[str, Any]) -> None:
    before = {name: table_rows(world.warehouse, name) for name in TABLES}
    calls = world.calls()
    assert run_dag("bol_shipments_hourly", _hour(world), [SHOP]) == "success"  # read already: nothing read
    assert world.calls() == calls
    assert run_dag("bol_shipments_hourly", _hour(world, 2), [SHOP]) == "success"  # a new window: read, no change
    assert world.calls()[1] == calls[1]
    assert {name: table_rows(world.warehouse, name) for name in TABLES} == before


def _bad_detail(world: World, shipment_id: str) -> str:
    """The detail of a just shipped item as bol could send it: a quantity beyond INTEGER."""
    t = next(s for s in world.truth("shipments") if s["shipment_id"] == shipment_id)
    items = [i for i in world.truth("shipment-items") if i["shipment_id"] == shipment_id]
    return json.dumps(
        {
            "shipmentId": shipment_id,
            "shipmentDateTime": t["shipped_at"],
            "order": {"orderId": t["order_id"], "orderPlacedDateTime": t["order_placed_at"]},
            "shipmentDetails": t["shipment_details"],
            "shipmentItems": [
                {"orderItemId": i["order_item_id"], "product": {"ean": i["ean"]}, "quantityShipped": 3_000_000_000}
                for i in items
            ],
            "transport": {"transportId": t["transport_id"], "transporterCode": t["transporter_code"]},
        }
    )


def test_a_bad_shipment_is_quarantined_and_the_rest_lands(world: World, changed_run: dict[str, Any]) -> None:
    bad, good = world.ship(2)
    surname = next(s for s in world.truth("shipments") if s["shipment_id"] == bad)["shipment_details"]["surname"]
    world.fault(
        kind="respond", client_id=ACCOUNT.client_id, path_prefix=f"/retailer/shipments/{bad}", count=5,
        headers=V10, body=_bad_detail(world, bad),
    )  # fmt: skip
    try:
        assert run_dag("bol_shipments_hourly", _hour(world, 3), [SHOP]) == "success"
    finally:
        world.clear_faults()
    assert_tables_equal_truth(world, held=frozenset({bad}))
    held = query(world.warehouse, "SELECT record_key, field, raw_json FROM bol.quarantine WHERE stream = 'shipments' "
                 "AND released_at IS NULL")  # fmt: skip
    assert [(key, field) for key, field, _ in held] == [(bad, "shipmentItems[0].quantityShipped")]
    assert surname not in held[0][2]
    assert good in {row[0] for row in query(world.warehouse, "SELECT shipment_id FROM bol.shipments")}
    assert run_dag("bol_shipments_hourly", _hour(world, 4), [SHOP]) == "success"  # bol serves it right again
    assert_tables_equal_truth(world)
    assert query(world.warehouse, "SELECT count(*) FROM bol.quarantine WHERE stream = 'shipments' "
                 "AND released_at IS NULL") == [(0,)]  # fmt: skip


def test_transport_faults_are_retried_and_land_the_truth(world: World, changed_run: dict[str, Any]) -> None:
    world.ship(3)
    world.fault(kind="burst_429", client_id=ACCOUNT.client_id, path_prefix="/retailer/shipments", count=3)
    world.fault(kind="server_error", client_id=ACCOUNT.client_id, path_prefix="/retailer/shipments", count=2,
                status=503)  # fmt: skip
    world.fault(kind="cut_body", client_id=ACCOUNT.client_id, path_prefix="/retailer/shipments", count=2, keep=0.5)
    try:
        assert run_dag("bol_shipments_hourly", _hour(world, 5), [SHOP]) == "success"
    finally:
        world.clear_faults()
    assert_tables_equal_truth(world)


def test_an_odd_page_lands_nothing(world: World, changed_run: dict[str, Any]) -> None:
    world.ship(1)
    before = {name: table_rows(world.warehouse, name) for name in (*TABLES, "shipment_scans")}
    world.fault(
        kind="respond", client_id=ACCOUNT.client_id, path_prefix="/retailer/shipments", count=50,
        headers=V10, body=json.dumps({"zendingen": []}),
    )  # fmt: skip
    try:
        assert run_dag("bol_shipments_hourly", _hour(world, 6), [SHOP]) == "failed"
    finally:
        world.clear_faults()
    assert {name: table_rows(world.warehouse, name) for name in (*TABLES, "shipment_scans")} == before
    errors = query(world.warehouse, "SELECT error FROM bol.sync_runs WHERE dag_id = 'bol_shipments_hourly' "
                   "AND status = 'failed'")  # fmt: skip
    assert any("'shipments' list" in str(error) for (error,) in errors)
    assert run_dag("bol_shipments_hourly", _hour(world, 7), [SHOP]) == "success"
    assert_tables_equal_truth(world)
