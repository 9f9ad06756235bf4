"""The calendar's day states from synced windows and holes."""

from __future__ import annotations

from datetime import UTC, date, timedelta

from bolsync.runs.gaps import Hole, amsterdam_midnight
from bolsync.ui.calendar import DayState, Window, calendar, calendar_days, day_state


def at(d: int, hours: int = 0):
    return amsterdam_midnight(date(2026, 11, d)) + timedelta(hours=hours)


def test_the_calendar_is_the_hundred_days_ending_today() -> None:
    days = calendar_days(date(2026, 11, 30))
    assert len(days) == 100
    assert days[-1] == date(2026, 11, 30)
    assert days[0] == date(2026, 8, 23)


def test_each_state() -> None:
    windows = [Window(at(1), at(2)), Window(at(2), at(3), quarantined=3), Window(at(3), at(3, 12))]
    holes = [Hole("orders", "s", at(4), at(5), "backfill"), Hole("orders", "s", at(5), at(6), "lost")]
    states = calendar([date(2026, 11, d) for d in range(1, 8)], windows, holes)
    assert states == [
        DayState.SYNCED,
        DayState.PARTIAL,  # records held in the quarantine
        DayState.PARTIAL,  # half the day synced, the rest not due
        DayState.HOLE,
        DayState.LOST,
        DayState.NONE,
        DayState.NONE,
    ]


def test_a_hole_wins_over_what_covers_the_rest_of_the_day_and_lost_over_fillable() -> None:
    windows = [Window(at(1), at(1, 20))]
    assert day_state(date(2026, 11, 1), windows, [Hole("orders", "s", at(1, 20), at(2), "backfill")]) is DayState.HOLE
    both = [Hole("orders", "s", at(1), at(1, 2), "lost"), Hole("orders", "s", at(1, 2), at(2), "backfill")]
    assert day_state(date(2026, 11, 1), [], both) is DayState.LOST


def test_hourly_windows_across_a_clock_change_cover_the_dutch_day() -> None:
    start = amsterdam_midnight(date(2026, 10, 25)).astimezone(UTC)
    end = amsterdam_midnight(date(2026, 10, 26)).astimezone(UTC)  # 25 hours
    hours = int((end - start).total_seconds() // 3600)
    windows = [Window(start + timedelta(hours=h), start + timedelta(hours=h + 1)) for h in range(hours)]
    assert hours == 25
    assert day_state(date(2026, 10, 25), windows, []) is DayState.SYNCED
    assert day_state(date(2026, 10, 25), windows[:-1], []) is DayState.PARTIAL
