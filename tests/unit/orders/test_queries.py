from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolsync.orders.queries import (
    CLOCK_SKEW,
    INTERVAL_SLACK_MINUTES,
    MAX_CHANGE_INTERVAL_MINUTES,
    OrderQuery,
    date_queries,
    plan_queries,
    reaches_window_start,
)
from bolsync.runs.windows import AMSTERDAM, SyncWindow, check_history, oldest_allowed_date
from bolsync_provider.errors import BolWindowTooOld

NOW = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)


def test_amsterdam_dates_follow_dutch_midnight() -> None:
    # 23:30 UTC on 26 Nov is 00:30 on 27 Nov in Amsterdam (CET, UTC+1).
    window = SyncWindow(datetime(2026, 11, 26, 22, 0, tzinfo=UTC), datetime(2026, 11, 27, 0, 0, tzinfo=UTC))
    assert window.amsterdam_dates() == [date(2026, 11, 26), date(2026, 11, 27)]


def test_daily_amsterdam_window_is_one_date() -> None:
    start = datetime(2026, 11, 25, tzinfo=AMSTERDAM)
    window = SyncWindow(start, start + timedelta(days=1))
    assert plan_queries(window, NOW) == [OrderQuery(latest_change_date="2026-11-25")]


def test_recent_window_uses_the_change_interval_with_slack() -> None:
    window = SyncWindow(NOW - timedelta(minutes=30), NOW - timedelta(minutes=2))
    assert plan_queries(window, NOW) == [OrderQuery(change_interval_minute=30 + INTERVAL_SLACK_MINUTES)]


def _quarter(minutes_late: float) -> tuple[SyncWindow, datetime]:
    """The quarter hour 09:45-10:00 UTC and a run of it ``minutes_late`` after its end."""
    end = datetime(2026, 11, 27, 10, tzinfo=UTC)
    return SyncWindow(end - timedelta(minutes=15), end), end + timedelta(minutes=minutes_late)


def test_a_quarter_hour_run_on_time_asks_for_the_last_twenty_minutes() -> None:
    window, now = _quarter(0.5)
    assert plan_queries(window, now) == [OrderQuery(change_interval_minute=19)]
    assert reaches_window_start(OrderQuery(change_interval_minute=19), window, now + timedelta(minutes=2))
    assert not reaches_window_start(OrderQuery(change_interval_minute=19), window, now + timedelta(minutes=3))


def test_a_quarter_hour_run_late_by_more_than_forty_two_minutes_takes_dates() -> None:
    assert plan_queries(*_quarter(42)) == [OrderQuery(change_interval_minute=60)]
    assert plan_queries(*_quarter(42.5)) == [OrderQuery(latest_change_date="2026-11-27")]


def test_date_queries_always_reach_the_window_start() -> None:
    window, now = _quarter(1)
    (query,) = date_queries(window, now)
    assert reaches_window_start(query, window, now + timedelta(days=1))


def test_hourly_window_run_at_its_end_uses_dates_so_nothing_is_missed() -> None:
    window = SyncWindow(datetime(2026, 11, 27, 9, tzinfo=UTC), datetime(2026, 11, 27, 10, tzinfo=UTC))
    assert plan_queries(window, NOW) == [OrderQuery(latest_change_date="2026-11-27")]


def test_late_run_covers_every_date_the_window_touches() -> None:
    window = SyncWindow(datetime(2026, 11, 24, 22, 30, tzinfo=UTC), datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    assert [q.latest_change_date for q in plan_queries(window, NOW)] == ["2026-11-24", "2026-11-25"]


def test_future_dates_are_not_queried() -> None:
    window = SyncWindow(NOW - timedelta(hours=2), NOW + timedelta(days=2))
    assert [q.latest_change_date for q in plan_queries(window, NOW)] == ["2026-11-27"]


def test_three_month_limit() -> None:
    assert oldest_allowed_date(NOW) == date(2026, 8, 27)
    ok = SyncWindow(datetime(2026, 8, 27, tzinfo=AMSTERDAM), datetime(2026, 8, 28, tzinfo=AMSTERDAM))
    check_history(ok, NOW)
    too_old = SyncWindow(datetime(2026, 8, 26, tzinfo=AMSTERDAM), datetime(2026, 8, 27, tzinfo=AMSTERDAM))
    with pytest.raises(BolWindowTooOld, match="oldest date it serves today is 2026-08-27"):
        plan_queries(too_old, NOW)


def test_naive_or_empty_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SyncWindow(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="not after"):
        SyncWindow(NOW, NOW)


@given(
    start_minutes=st.integers(min_value=0, max_value=60 * 24 * 60),
    length_minutes=st.integers(min_value=1, max_value=60 * 72),
)
def test_plan_covers_every_instant_of_the_window(start_minutes: int, length_minutes: int) -> None:
    start = NOW - timedelta(minutes=start_minutes)
    window = SyncWindow(start, start + timedelta(minutes=length_minutes))
    queries = plan_queries(window, NOW)
    dates = {q.latest_change_date for q in queries if q.latest_change_date}
    interval = max((q.change_interval_minute or 0) for q in queries)
    assert interval <= MAX_CHANGE_INTERVAL_MINUTES
    # A change-interval query still reaches the window's start after two minutes of paging, bol's clock a
    # minute ahead of ours.
    reach = NOW + timedelta(minutes=2) + CLOCK_SKEW - timedelta(minutes=interval)
    assert all(reaches_window_start(q, window, NOW + timedelta(minutes=2)) for q in queries)
    probe = window.start
    while probe < min(window.end, NOW):
        covered = probe.astimezone(AMSTERDAM).date().isoformat() in dates or (interval and probe >= reach)
        assert covered, (probe, queries)
        probe += timedelta(minutes=7)
