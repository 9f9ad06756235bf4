"""Alerts of a condition that passed are cleared in bol.alerts: an emptied quarantine, a resolved deletion hold,
and an unsettled window a later load covered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bolsync.orders.unsettled import unsettled_key
from bolsync.runs import alert_log
from bolsync.runs.coverage import record_coverage
from bolsync.runs.coverage_check import clear_covered_unsettled
from bolsync.runs.deletion_holds import ListRun, hold_alert_key, settle_holds
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence
from bolsync.runs.quarantine import alert_new
from bolsync.runs.windows import SyncWindow
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse

T0 = datetime(2026, 11, 30, 8, tzinfo=UTC)
SHOP = "bol_shop"


@pytest.fixture(autouse=True)
def nothing_pending() -> Iterator[None]:
    alert_log._pending.clear()
    yield
    alert_log._pending.clear()


def _raised(conn, key: str, kind: str, stream: str) -> None:
    alert_log._pending.append(
        alert_log.AlertAttempt(key=key, kind=kind, subject="s", body="b", at=T0, sent=True, conn_id=SHOP, stream=stream)
    )
    alert_log.write_pending(conn)


def _open(conn) -> list[str]:
    return [key for (key,) in conn.query("SELECT alert_key FROM bol.alerts WHERE cleared_at IS NULL ORDER BY 1")]


def test_a_quarantine_alert_is_cleared_once_nothing_of_its_stream_is_held(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        _raised(conn, "quarantine:orders:bol_shop:abc", "quarantine", "orders")
        _raised(conn, "quarantine:offers:bol_shop:def", "quarantine", "offers")
        conn.execute(
            "INSERT INTO bol.quarantine (stream, retailer_id, record_key, conn_id, reason, raw_json, first_seen_at, "
            "last_seen_at, dag_id, run_id, alerted_at) "
            "VALUES ('offers', '1', 'o-1', ?, 'bad', '{}', ?, ?, 'd', 'r', ?)",
            [SHOP, T0, T0, T0],
        )
        assert alert_new(conn, "orders", SHOP, {}) == 0
        assert alert_new(conn, "offers", SHOP, {}) == 0  # still held (and alerted before): stays open
        assert _open(conn) == ["quarantine:offers:bol_shop:def"]


def test_a_deletion_hold_alert_is_cleared_when_a_later_list_resolves_the_hold(warehouse: WarehouseTarget) -> None:
    def check(missing: int, confirmed: bool) -> DeletionCheck:
        evidence = FullListEvidence(live=120, named=120 - missing, missing=missing)
        return DeletionCheck(
            stream="offers", what="bol's offer export", records="offers", table="bol.offers", listed=120 - missing,
            evidence=evidence, threshold=DeletionThreshold(), confirmed=confirmed,
        )  # fmt: skip

    held = ListRun(SHOP, "1", "bol_offers_daily", "run_1", T0)
    with connect_warehouse(warehouse) as conn:
        settle_holds(conn, check(119, False), held)
        _raised(conn, hold_alert_key("offers", held.dag_id, held.run_id, SHOP), "deletion-hold", "offers")
        assert len(_open(conn)) == 1
        settle_holds(conn, check(119, True), ListRun(SHOP, "1", "bol_offers_daily", "run_2", T0 + timedelta(days=1)))
        assert _open(conn) == []


def test_an_unsettled_window_alert_is_cleared_once_a_load_covers_its_window(warehouse: WarehouseTarget) -> None:
    window = SyncWindow(T0, T0 + timedelta(hours=1))
    context = {"dag": SimpleNamespace(dag_id="bol_orders_daily", tags=["orders"]),
               "ti": SimpleNamespace(dag_id="bol_orders_daily", run_id="r2")}  # fmt: skip
    with connect_warehouse(warehouse) as conn:
        _raised(conn, unsettled_key(SHOP, window), "unsettled", "orders")
        assert clear_covered_unsettled(conn, "orders", SHOP, T0 + timedelta(days=1)) == 0  # not covered yet
        day = {"conn_id": SHOP, "retailer_id": "1", "window_start": T0 - timedelta(hours=8),
               "window_end": T0 + timedelta(hours=16)}  # fmt: skip
        record_coverage(conn, context, day)
        assert clear_covered_unsettled(conn, "orders", SHOP, T0 + timedelta(days=1)) == 1
        assert _open(conn) == []
