"""A run's issue dates in list requests of at most 31 days (the first reaching back over the week before where
it has room), and the period a manual run's params name."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException
from hypothesis import given
from hypothesis import strategies as st

from bolsync.invoices import stream
from bolsync.invoices.periods import BadPeriod, days_of, list_periods, requested_window
from bolsync.runs.windows import AMSTERDAM, SyncWindow

NOW = datetime(2026, 3, 10, 9, tzinfo=UTC)


def test_a_week_is_one_request_that_also_names_the_week_before() -> None:
    assert list_periods(date(2026, 3, 2), date(2026, 3, 8)) == [(date(2026, 2, 23), date(2026, 3, 8))]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2026, 1, 1), date(2026, 1, 31), [(date(2026, 1, 1), date(2026, 1, 31))]),
        (date(2026, 1, 7), date(2026, 1, 31), [(date(2026, 1, 1), date(2026, 1, 31))]),
        (date(2026, 1, 1), date(2026, 2, 1), [(date(2026, 1, 1), date(2026, 1, 31)),
                                              (date(2026, 2, 1), date(2026, 2, 1))]),
        (
            date(2026, 1, 1),
            date(2026, 3, 31),
            [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 3, 3)),
             (date(2026, 3, 4), date(2026, 3, 31))],
        ),
    ],
)  # fmt: skip
def test_longer_runs_are_listed_in_periods_of_at_most_31_days(first: date, last: date, expected: list) -> None:
    assert list_periods(first, last) == expected


@given(st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.integers(0, 400), st.integers(0, 10))
def test_periods_are_at_most_31_days_and_cover_every_day_once(first: date, days: int, late: int) -> None:
    last = first + timedelta(days=days)
    periods = list_periods(first, last, late)
    assert all((end - start).days + 1 <= 31 for start, end in periods)
    assert periods[-1][1] == last
    assert all(later[0] == earlier[1] + timedelta(days=1) for earlier, later in itertools.pairwise(periods))
    assert first - timedelta(days=late) <= periods[0][0] <= first


def test_the_days_of_a_weekly_window() -> None:
    monday = datetime(2026, 3, 2, tzinfo=AMSTERDAM)
    assert days_of(SyncWindow(monday, monday + timedelta(days=7))) == (date(2026, 3, 2), date(2026, 3, 8))


def test_a_requested_period_is_the_window_of_its_issue_dates() -> None:
    window = requested_window({"period_start": "2026-01-01", "period_end": "2026-03-09"}, NOW)
    assert window == SyncWindow(datetime(2026, 1, 1, tzinfo=AMSTERDAM), datetime(2026, 3, 10, tzinfo=AMSTERDAM))
    assert requested_window({"period_start": None, "period_end": ""}, NOW) is None


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"period_start": "2026-01-01"}, "give both period_start and period_end"),
        ({"period_start": "2026-02-01", "period_end": "2026-01-31"}, "is before period_start"),
        ({"period_start": "2026-03-01", "period_end": "2026-03-10"}, "not over yet .* on 2026-03-09 at the latest"),
        ({"period_start": "01-03-2026", "period_end": "2026-03-05"}, "not a date like 2026-03-01"),
    ],
)
def test_a_period_that_cannot_be_listed_says_what_to_give(params: dict, problem: str) -> None:
    with pytest.raises(BadPeriod, match=problem):
        requested_window(params, NOW)


def test_the_run_window_is_the_params_period_else_the_data_interval() -> None:
    start, end = datetime(2026, 3, 2, tzinfo=AMSTERDAM), datetime(2026, 3, 9, tzinfo=AMSTERDAM)
    context = {"params": {"period_start": None}, "data_interval_start": start, "data_interval_end": end}
    assert stream.window(context) == SyncWindow(start, end)
    context["params"] = {"period_start": "2026-02-01", "period_end": "2026-02-28"}
    assert stream.window(context) == SyncWindow(
        datetime(2026, 2, 1, tzinfo=AMSTERDAM), datetime(2026, 3, 1, tzinfo=AMSTERDAM)
    )
    context["params"] = {"period_start": "2026-02-01"}
    with pytest.raises(AirflowFailException, match="bol_invoices: give both"):
        stream.window(context)


def test_the_generic_extract_asks_the_stream_for_its_window() -> None:
    from bolsync.invoices.spec import SPEC
    from bolsync.orders.spec import SPEC as ORDERS
    from bolsync.streams.steps import stream_window

    start, end = datetime(2026, 3, 2, tzinfo=AMSTERDAM), datetime(2026, 3, 9, tzinfo=AMSTERDAM)
    period = {"period_start": "2026-02-01", "period_end": "2026-02-28"}
    context = {"params": period, "data_interval_start": start, "data_interval_end": end}
    assert stream_window(SPEC, context) == SyncWindow(
        datetime(2026, 2, 1, tzinfo=AMSTERDAM), datetime(2026, 3, 1, tzinfo=AMSTERDAM)
    )
    assert stream_window(ORDERS, context) == SyncWindow(start, end)  # a stream without its own window
