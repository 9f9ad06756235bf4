"""Every documented shape of an invoice amount, date, quantity and text reads to the same value; what cannot be
right is refused with the reason; what no reader takes stays in ``extra``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolsync.invoices import shapes
from bolsync.invoices.shapes import Consumed, Money
from bolsync.runs.values import ValueProblem


def money(value: Any) -> Money | None:
    return shapes.money({"x": value}, ("x",), Consumed())


def day(value: Any, not_after: date | None = None) -> date | None:
    return shapes.day({"x": value}, ("x",), Consumed(), not_after=not_after)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-1336.3, Money(Decimal("-1336.30"), None)),
        ("-1336.30", Money(Decimal("-1336.30"), None)),
        (" 12 ", Money(Decimal("12.00"), None)),
        (7, Money(Decimal("7.00"), None)),
        ({"amount": -1336.3, "currencyID": "EUR"}, Money(Decimal("-1336.30"), "EUR")),  # the list
        ({"value": 4.25, "currencyID": "EUR"}, Money(Decimal("4.25"), "EUR")),  # UBL
        ({"value": "4.25", "currencyID": "EUR"}, Money(Decimal("4.25"), "EUR")),
        ({"amount": "1.5E1"}, Money(Decimal("15.00"), None)),
        (0.1 + 0.2 - 0.3 + 1.1, Money(Decimal("1.10"), None)),
        (None, None),
        ("", None),
    ],
)
def test_amounts_in_every_documented_shape(value: Any, expected: Money | None) -> None:
    assert money(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (12.345, "fractions of a cent"),
        ("12,34", "not a number"),
        (True, "not a number"),
        (float("nan"), "not a finite number"),
        ("Infinity", "not a number"),
        (12_345_678_901.0, r"beyond DECIMAL\(12,2\)"),
        ({"currencyID": "EUR"}, "without 'amount' or 'value'"),
        ({"value": 1, "currencyID": "euro"}, "not an ISO 4217 code"),
        ([1], "not a number"),
    ],
)
def test_amounts_that_cannot_be_right_are_refused(value: Any, problem: str) -> None:
    with pytest.raises(ValueProblem, match=problem):
        money(value)


@given(st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1))
def test_every_amount_in_cents_reads_back_exactly_from_a_number_and_from_text(cents: int) -> None:
    exact = Decimal(cents).scaleb(-2)
    assert money(float(exact)) == money(str(exact)) == money({"value": str(exact)}) == Money(exact, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01", date(2026, 3, 1)),
        ("2021-03-01+01:00", date(2021, 3, 1)),  # UBL's date with a zone (a captured invoice)
        ("2026-02-28T23:30:00Z", date(2026, 3, 1)),  # its Amsterdam date
        ("2026-03-01T00:00:00+01:00", date(2026, 3, 1)),
        (1772319600000, date(2026, 3, 1)),  # epoch milliseconds: midnight in Amsterdam
        (1772319600000.0, date(2026, 3, 1)),
        ("1772319600000", date(2026, 3, 1)),
        (1525125600, date(2018, 5, 1)),  # epoch seconds, as one captured list answer has them
        ({"value": "2026-03-01"}, date(2026, 3, 1)),
        (None, None),
    ],
)
def test_dates_in_every_documented_shape(value: Any, expected: date | None) -> None:
    assert day(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("01-03-2026", "not an ISO 8601"),
        ("2026-02-30", "not a date"),
        (-5, "not an epoch time"),
        (True, "not a date or an epoch time"),
        ("1999-12-31", "not a date of a bol invoice"),
        (10**20, "not an epoch time"),
    ],
)
def test_dates_that_cannot_be_right_are_refused(value: Any, problem: str) -> None:
    with pytest.raises(ValueProblem, match=problem):
        day(value)


def test_a_date_after_the_latest_possible_is_refused() -> None:
    with pytest.raises(ValueProblem, match="not a date of a bol invoice"):
        day("2030-01-01", not_after=date(2027, 1, 1))


def test_instants_without_a_zone_are_amsterdam_time() -> None:
    assert shapes.instant("2026-02-20T14:03:00") == datetime(2026, 2, 20, 13, 3, tzinfo=UTC)
    assert shapes.instant("2026-07-20T14:03:00") == datetime(2026, 7, 20, 12, 3, tzinfo=UTC)


def test_quantities_rates_and_texts() -> None:
    read = Consumed()
    record = {"q": {"value": "2", "unitCode": "C62"}, "p": 21, "d": [{"value": "Omzet"}, {"value": "second"}]}
    assert shapes.number(record, ("q",), read, digits=12, scale=3) == Decimal("2.000")
    assert shapes.number(record, ("p",), read, digits=5, scale=2) == Decimal("21.00")
    assert shapes.text(record, ("d",), read) == "Omzet"
    assert shapes.residual(record, read) == {"q": {"unitCode": "C62"}, "d": [{"value": "second"}]}
    with pytest.raises(ValueProblem, match="more than 2 decimals"):
        shapes.number({"p": 21.125}, ("p",), read, digits=5, scale=2)
    with pytest.raises(ValueProblem, match="beyond DECIMAL"):
        shapes.number({"p": 1000}, ("p",), read, digits=5, scale=2)
    with pytest.raises(ValueProblem, match="not text"):
        shapes.text({"d": {"value": {"nested": 1}}}, ("d",), read)


def test_codes_refuse_control_characters_and_read_numbers_as_text() -> None:
    read = Consumed()
    assert shapes.code({"id": 4500022543921}, ("id",), read) == "4500022543921"
    assert shapes.code({"id": {"value": "S"}}, ("id",), read) == "S"
    with pytest.raises(ValueProblem, match="control character"):
        shapes.code({"id": "45\x00"}, ("id",), read)
    with pytest.raises(ValueProblem, match="missing"):
        shapes.code({}, ("id",), read, required=True)


def test_what_no_reader_takes_stays_and_empty_containers_go() -> None:
    read = Consumed({("a",), ("b", "c"), ("l", 0)})
    record = {"a": 1, "b": {"c": 2}, "l": [{"x": 1}, {"y": 2}], "kept": {"z": 0}, "empty": {}}
    assert shapes.residual(record, read) == {"l": [{"y": 2}], "kept": {"z": 0}}
    assert shapes.residual({"a": 1}, read) is None
