"""Coverage holes: interval arithmetic, the checked span, and what each hole means."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bolsync.runs.gaps import amsterdam_midnight, check_span, holes, merged, subtract

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)  # 08:00 in Amsterdam


def day(d: int, month: int = 11) -> datetime:
    return amsterdam_midnight(date(2026, month, d))


def days(first: int, last: int, month: int = 11) -> list[tuple[datetime, datetime]]:
    return [(day(d, month), day(d, month) + timedelta(days=1)) for d in range(first, last + 1)]


def test_merged_and_subtract() -> None:
    assert merged([(day(3), day(4)), (day(1), day(2)), (day(2), day(3))]) == [(day(1), day(4))]
    assert subtract([(day(1), day(10))], [(day(2), day(3)), (day(5), day(7))]) == [
        (day(1), day(2)),
        (day(3), day(5)),
        (day(7), day(10)),
    ]
    assert subtract([(day(1), day(3))], [(day(1), day(3))]) == []


def test_the_span_runs_from_the_first_covered_window_to_last_midnight() -> None:
    covered = days(20, 27)
    assert check_span(covered, None, timedelta(days=100), NOW) == (day(20), day(30))
    assert check_span(covered, date(2026, 11, 1), timedelta(days=100), NOW) == (day(1), day(30))
    assert check_span(covered, None, timedelta(days=3), NOW) == (NOW - timedelta(days=3), day(30))
    assert check_span([], None, timedelta(days=100), NOW) is None
    early = datetime(2026, 11, 30, 3, tzinfo=UTC)  # 04:00: yesterday's daily run may still be running
    assert check_span(covered, None, timedelta(days=100), early) == (day(20), day(29))


def test_a_weekly_stream_is_checked_once_its_weekly_run_is_due() -> None:
    """A Monday ends six days before the weekly run (next Monday 00:00) that covers it."""
    covered = days(2, 15)  # the weekly runs of 2-8 and 9-15 November
    assert check_span(covered, None, timedelta(days=100), NOW, timedelta(days=6)) == (day(2), day(24))


def test_hourly_and_daily_windows_together_cover_a_day() -> None:
    hours = [(day(25) + timedelta(hours=h), day(25) + timedelta(hours=h + 1)) for h in range(24)]
    covered = days(20, 24) + hours + days(26, 29)
    assert holes("orders", "shop", covered, (day(20), day(30)), NOW) == []


def test_an_orders_hole_is_a_backfill_inside_bols_history_and_lost_before() -> None:
    covered = days(1, 5, 8) + days(25, 29)
    found = holes("orders", "shop", covered, (day(1, 8), day(30)), NOW)
    assert [(h.kind, h.first_day, h.last_day) for h in found] == [
        ("lost", date(2026, 8, 6), date(2026, 8, 29)),
        ("backfill", date(2026, 8, 30), date(2026, 11, 24)),
    ]


def test_every_offers_hole_is_lost() -> None:
    found = holes("offers", "shop", days(20, 24) + days(26, 29), (day(20), day(30)), NOW)
    assert [(h.kind, h.first_day, h.last_day) for h in found] == [("lost", date(2026, 11, 25), date(2026, 11, 25))]
