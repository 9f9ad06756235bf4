"""The planner's arithmetic: pages found by the probe, list and detail calls, wall time, input checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bolsync.planner.estimate import Limits, estimate_days, list_calls, wall_seconds
from bolsync.planner.plan import (
    BackfillPlan,
    PlanInputError,
    PlanRequest,
    backfill_command,
    check_inside_history,
    parse_request,
)
from bolsync.planner.probe import DayProbe, probe_day
from bolsync.planner.report import render, summary

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
DAY = date(2026, 11, 20)


def reader(orders: int, prefix: str = "o"):
    """Pages of 50 of a list of ``orders`` orders; records the pages read."""
    read: list[int] = []

    def read_page(page: int) -> list[dict]:
        read.append(page)
        first = (page - 1) * 50
        return [{"orderId": f"{prefix}{n}"} for n in range(first, min(first + 50, orders))]

    return read_page, read


@pytest.mark.parametrize("orders", [0, 1, 49, 50, 51, 100, 149, 350, 537, 1000, 2049])
def test_the_probe_finds_the_last_page_in_few_calls(orders: int) -> None:
    read_page, read = reader(orders)
    probe = probe_day(DAY, read_page, spend=0)
    assert probe.orders == orders
    assert probe.pages == -(-orders // 50)
    assert probe.probe_calls == len(read) <= 2 * max(1, probe.pages).bit_length() + 2
    assert probe.sample_ids <= {f"o{n}" for n in range(orders)}


def test_the_probe_widens_the_sample_within_its_share_of_the_estimate() -> None:
    read_page, read = reader(1000)  # 20 pages, about 1,040 calls when every order is new: all pages are read
    probe = probe_day(DAY, read_page)
    assert probe.sample_fraction == 1.0
    assert probe.probe_calls == len(read) == 24
    read_page, read = reader(1000)  # half of them known: 540 calls, 3 % of that is 16 calls
    half = probe_day(DAY, read_page, known=lambda ids: {i for i in ids if int(i[1:]) % 2})
    assert half.probe_calls == len(read) == len(set(read)) == 16
    read_page, read = reader(1000)
    known = probe_day(DAY, read_page, known=lambda ids: ids)  # all known: a day of list calls only
    assert known.probe_calls == 10  # the search only


@pytest.mark.parametrize(
    ("pages", "last", "calls"),
    [(0, 0, 1), (1, 10, 2), (1, 50, 3), (2, 10, 4), (5, 50, 11), (5, 1, 10)],
)
def test_list_calls_are_the_pages_the_empty_end_and_one_settle_pass(pages: int, last: int, calls: int) -> None:
    assert list_calls(pages, last) == calls


def test_details_leave_out_known_orders_and_orders_of_an_earlier_day() -> None:
    one = DayProbe(date(2026, 11, 1), pages=1, last_page_size=4, sampled={1: ["a", "b", "c", "d"]})
    two = DayProbe(date(2026, 11, 2), pages=1, last_page_size=3, sampled={1: ["c", "x", "y"]})
    first, second = estimate_days([two, one], known={"a"})
    assert (first.day, first.details, first.list_calls) == (date(2026, 11, 1), 3, 2)
    assert (second.day, second.details) == (date(2026, 11, 2), 2)  # c was fetched on the 1st


def test_details_scale_the_sample_to_the_day() -> None:
    sampled = {1: [f"o{n}" for n in range(50)], 4: [f"o{n}" for n in range(150, 200)]}
    probe = DayProbe(DAY, pages=4, last_page_size=50, sampled=sampled, probe_calls=4)
    (day,) = estimate_days([probe], known={f"o{n}" for n in range(25)})  # a quarter of the sample is known
    assert day.orders == 200
    assert day.details == 150
    assert day.list_calls == 4 + 1 + 4
    assert day.calls == 159


LIMITS = Limits(per_second=5, per_hour=18_000, order_list=(25, 60.0), order_detail=(25, 1.0))


def test_wall_time_is_bound_by_the_slowest_limit() -> None:
    assert wall_seconds(100, 0, LIMITS) == pytest.approx(240 * 1.03)  # the list endpoint's 25/min
    assert wall_seconds(10, 1000, LIMITS) == pytest.approx(1010 / 5 * 1.03)  # the credential's 5/s
    many = wall_seconds(0, 40_000, Limits(50, 18_000, (25, 60.0), (25, 1.0), used_last_hour=8_000))
    assert many == pytest.approx(3600 * (1 + 30_000 / 18_000) * 1.03)  # 10,000 left this hour, then 18,000/h


def test_bad_input_is_refused_with_what_to_change() -> None:
    with pytest.raises(PlanInputError, match="YYYY-MM-DD"):
        parse_request("bol_shop", "2026-13-01", "2026-11-02", "probe", NOW)
    with pytest.raises(PlanInputError, match="swap"):
        parse_request("bol_shop", "2026-11-05", "2026-11-02", "probe", NOW)
    with pytest.raises(PlanInputError, match="future"):
        parse_request("bol_shop", "2026-11-05", "2026-12-02", "probe", NOW)
    with pytest.raises(PlanInputError, match="--account"):
        parse_request(" ", "2026-11-01", "2026-11-02", "probe", NOW)
    with pytest.raises(PlanInputError, match="probe or history"):
        parse_request("bol_shop", "2026-11-01", "2026-11-02", "guess", NOW)


def test_a_range_outside_bols_history_names_the_first_day_served() -> None:
    check_inside_history(PlanRequest("bol_shop", date(2026, 8, 30), date(2026, 9, 3)), NOW)
    with pytest.raises(PlanInputError, match=r"first day bol still serves is 2026-08-30\. Plan --from 2026-08-30"):
        check_inside_history(PlanRequest("bol_shop", date(2026, 8, 1), date(2026, 9, 3)), NOW)
    with pytest.raises(PlanInputError, match="wholly outside"):
        check_inside_history(PlanRequest("bol_shop", date(2026, 7, 1), date(2026, 7, 3)), NOW)


def test_the_backfill_command_names_amsterdam_midnights() -> None:
    command = backfill_command("bol_orders_daily", date(2026, 10, 20), date(2026, 11, 2), "bol_shop")
    assert "--from-date 2026-10-20T00:00:00+02:00 --to-date 2026-11-02T00:00:00+01:00" in command
    assert '"accounts": ["bol_shop"]' in command


def test_the_report_has_a_row_per_day_totals_and_the_command() -> None:
    probe = DayProbe(DAY, pages=2, last_page_size=10, sampled={1: [f"o{n}" for n in range(50)]}, probe_calls=2)
    plan = BackfillPlan("bol_shop", "2000001", DAY, DAY, "probe", date(2026, 8, 30), LIMITS, probe_calls=2)
    plan.days = estimate_days([probe], known=set())
    text = render(plan)
    assert "2026-11-20" in text
    assert "total" in text
    assert "API calls: 64 (4 order-list pages" in text
    assert "bol_orders_daily" in text
    assert "inside bol's 3 months" in text
    assert "64 API calls" in summary(plan)
