"""The coverage check's memory: a grown hole is alerted for its new part only, a filled one is forgotten."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from bolsync.runs.coverage_check import describe, forget_filled, history_start, lookback, new_holes, remember
from bolsync.runs.gaps import Hole, amsterdam_midnight
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.errors import BolConfigError

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)


def day(d: int) -> datetime:
    return amsterdam_midnight(date(2026, 11, d))


def hole(first: int, end: int, kind: str = "backfill", stream: str = "orders") -> Hole:
    return Hole(stream, "bol_shop", day(first), day(end), kind)  # type: ignore[arg-type]


def spans(holes: list[Hole]) -> list[tuple[datetime, datetime]]:
    return [(h.start, h.end) for h in holes]


def test_a_grown_hole_is_alerted_for_its_new_part_and_a_filled_one_is_forgotten(warehouse) -> None:
    with connect_warehouse(warehouse) as conn:
        assert spans(new_holes(conn, [hole(20, 22)])) == [(day(20), day(22))]
        remember(conn, [hole(20, 22)], NOW)
        assert new_holes(conn, [hole(20, 22)]) == []
        assert spans(new_holes(conn, [hole(20, 24)])) == [(day(22), day(24))]
        assert forget_filled(conn, "orders", "bol_shop", [(day(21), day(22))]) == 0
        assert forget_filled(conn, "orders", "bol_shop", []) == 1
        assert spans(new_holes(conn, [hole(20, 22)])) == [(day(20), day(22))]


def test_what_the_mail_says_per_kind_of_hole(warehouse) -> None:
    with connect_warehouse(warehouse) as conn:
        backfill = describe(conn, hole(20, 22), "2000001", NOW, None)
        lost = describe(conn, hole(1, 3, "lost"), "2000001", NOW, None)
        offers = describe(conn, hole(20, 21, "lost", "offers"), "2000001", NOW, None)
    assert backfill.startswith("BACKFILL: orders of bol_shop, 2026-11-20 .. 2026-11-21 (Europe/Amsterdam")
    assert "--from-date 2026-11-20T00:00:00+01:00 --to-date 2026-11-21T00:00:00+01:00" in backfill
    assert "python -m bolsync.planner --account bol_shop --from 2026-11-20 --to 2026-11-21" in backfill
    assert lost.startswith("LOST: orders of bol_shop")
    assert "bol serves from 2026-08-30" in lost
    assert offers.startswith("LOST: offers of bol_shop, 2026-11-20 (")
    assert "bol keeps no history of the offers" in offers


def test_settings_are_checked() -> None:
    assert history_start(None) is None
    assert history_start("2026-09-01") == date(2026, 9, 1)
    with pytest.raises(BolConfigError, match="bolsync_coverage_history_start must be a date"):
        history_start("September")
    assert lookback(None) == timedelta(days=100)
    with pytest.raises(BolConfigError, match="bolsync_coverage_lookback_days"):
        lookback("0")


def test_a_coverage_alert_is_cleared_once_none_of_its_holes_is_remembered(warehouse) -> None:
    from bolsync.runs import alert_log
    from bolsync.runs.coverage_check import clear_resolved

    key = "coverage:2026-11-30:orders:bol_shop:x"
    alert_log._pending[:] = [
        alert_log.AlertAttempt(
            key=key, kind="coverage", subject="s", body="b", at=NOW, sent=True, conn_id="bol_shop", stream="orders"
        )
    ]
    with connect_warehouse(warehouse) as conn:
        alert_log.write_pending(conn)
        remember(conn, [hole(20, 22), hole(25, 26)], NOW, key)
        assert forget_filled(conn, "orders", "bol_shop", [(day(25), day(26))]) == 1
        assert clear_resolved(conn, "orders", "bol_shop", NOW + timedelta(hours=1)) == 0  # one hole still open
        assert forget_filled(conn, "orders", "bol_shop", []) == 1
        assert clear_resolved(conn, "orders", "bol_shop", NOW + timedelta(hours=1)) == 1
        assert conn.scalar("SELECT cleared_by FROM bol.alerts WHERE alert_key = ?", [key]).startswith("coverage check")


def test_holes_whose_mail_could_not_be_sent_are_alerted_again_by_the_next_check(
    warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bolsync.runs import alerts, coverage_check
    from bolsync.runs.coverage import record_coverage

    monkeypatch.setattr(coverage_check, "get_variable", lambda key: None)
    monkeypatch.setattr(coverage_check, "_settings", lambda conn_id: None)
    outcomes = [alerts.Delivery.FAILED, alerts.Delivery.SENT]
    mailed: list[str] = []

    def deliver(alert: alerts.Alert, context: object) -> alerts.Delivery:
        mailed.append(alert.key)
        return outcomes.pop(0)

    monkeypatch.setattr(alerts, "deliver", deliver)
    ti = SimpleNamespace(dag_id="bol_orders_daily", run_id="r")
    context = {"ti": ti, "dag": SimpleNamespace(tags=["orders"])}
    with connect_warehouse(warehouse) as conn:
        for first in (20, *range(23, 30)):  # the 21st and 22nd were never synced
            audit = {"conn_id": "bol_shop", "window_start": day(first), "window_end": day(first + 1)}
            record_coverage(conn, context, audit)
        coverage_check.check_coverage(conn, ["bol_shop"], NOW, context)
        assert conn.query("SELECT count(*) FROM bol.coverage_alerts") == [(0,)]  # not remembered: the mail failed
        coverage_check.check_coverage(conn, ["bol_shop"], NOW + timedelta(hours=1), context)
        remembered = conn.query("SELECT hole_start, alert_key FROM bol.coverage_alerts")
    assert len(mailed) == 2
    assert [(start, key) for start, key in remembered] == [(day(21), mailed[1])]


def test_held_records_are_listed_every_night_until_released_and_alerted_once(warehouse, monkeypatch, caplog) -> None:
    from bolsync.runs import quarantine
    from bolsync.runs.coverage_check import report_held

    sent: list[quarantine.alerts.Alert] = []
    monkeypatch.setattr(quarantine.alerts, "send", lambda alert, context: sent.append(alert) or True)
    scope = quarantine.Quarantine("orders", "bol_shop", "2000001", "bol_orders_daily", "run_1", day(20), day(21))
    held = [quarantine.Rejected("O2", "quantity 3000000000 is outside INTEGER", '{"orderId":"O2"}', "quantity")]
    with connect_warehouse(warehouse) as conn:
        assert report_held(conn, "orders", "bol_shop", {}) == 0
        scope.settle(conn, held, [], NOW)
        assert report_held(conn, "orders", "bol_shop", {}) == 1
        assert report_held(conn, "orders", "bol_shop", {}) == 1  # still listed, not alerted again
        assert report_held(conn, "offers", "bol_shop", {}) == 0
        scope.settle(conn, [], ["O2"], NOW)
        assert report_held(conn, "orders", "bol_shop", {}) == 0
    assert len(sent) == 1
    assert "O2 (window 2026-11-19T23:00Z .. 2026-11-20T23:00Z" in sent[0].body
    assert "1 orders record(s) of bol_shop held in bol.quarantine" in caplog.text
