"""The coverage check's memory: a grown hole is alerted for its new part only, a filled one is forgotten."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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
    assert "no offer history" in offers


def test_settings_are_checked() -> None:
    assert history_start(None) is None
    assert history_start("2026-09-01") == date(2026, 9, 1)
    with pytest.raises(BolConfigError, match="bolsync_coverage_history_start must be a date"):
        history_start("September")
    assert lookback(None) == timedelta(days=100)
    with pytest.raises(BolConfigError, match="bolsync_coverage_lookback_days"):
        lookback("0")


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
