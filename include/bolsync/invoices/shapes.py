"""Reading the shapes bol's invoice answers come in (pure, no I/O).

The spec types every invoice answer as a plain string, so the shapes are those maintained third-party clients
read and the project's emulator serves (``bol_emulator.invoice_payloads`` lists the sources):

* an amount is a JSON number, a numeric string, or an object ``{"amount": x, "currencyID": "EUR"}`` (the list)
  or ``{"value": x, "currencyID": "EUR"}`` (UBL: the detail and the specification), ``x`` itself a number or
  a numeric string;
* a date is ISO 8601 text (``2026-03-01``, UBL's ``2026-03-01+01:00``, or a date-time, read as its Amsterdam
  date), or epoch milliseconds (a v10 client; a captured answer mixes in epoch seconds, told apart by size);
* a quantity or a percentage is a number, a numeric string or ``{"value": x}``; a text is a string,
  ``{"value": "..."}`` or a list of those (UBL's ``Description``).

Each reader returns None for an absent value and raises :class:`~bolsync.runs.values.ValueProblem` for one that
cannot be right (the caller names the invoice and the field). Each marks what it read in a :class:`Consumed`,
so what no column maps stays in the row's ``extra`` (:func:`residual`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bolsync.runs import values
from bolsync.runs.values import ValueProblem, described, shown
from bolsync.runs.windows import AMSTERDAM

Path = tuple[str | int, ...]

#: Epoch values at least this large are milliseconds; smaller ones seconds (1e11 s is the year 5138).
EPOCH_MS_FROM = 10**11
#: No bol invoice is dated before this.
EARLIEST_DAY = date(2000, 1, 1)
CENT = Decimal("0.01")
MONEY_MAX = Decimal(str(values.DECIMAL_12_2_MAX))
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DAY_WITH_ZONE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass
class Consumed:
    """The paths (keys and list positions) of the values a reader mapped to columns."""

    paths: set[Path] = field(default_factory=set)

    def add(self, path: Path) -> None:
        self.paths.add(path)


@dataclass(frozen=True)
class Money:
    """An amount and the currency it named (None when it named none)."""

    amount: Decimal
    currency: str | None


def at(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj`` (None where the path does not exist)."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or not -len(obj) <= step < len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[step] if isinstance(step, int) else obj.get(step)
    return obj


def unwrapped(obj: Any, path: Path, keys: Iterable[str] = ("value",)) -> tuple[Any, Path]:
    """The value at ``path``, or inside it at the first of ``keys`` it has when it is an object; with its path."""
    value = at(obj, path)
    if isinstance(value, Mapping):
        for key in keys:
            if key in value:
                return value[key], (*path, key)
    return value, path


def decimal(value: Any) -> Decimal | None:
    """A finite number from a JSON number or a numeric string; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"is {described(value)}, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(f"{shown(value)} is not a finite number")
        return Decimal(repr(value))
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise ValueProblem(f"is {described(value)}, not a number")


def money(obj: Any, path: Path, consumed: Consumed) -> Money | None:
    """An amount in cents (``DECIMAL(12, 2)``): a number, a numeric string, ``{amount|value, currencyID}``."""
    raw = at(obj, path)
    value, where = unwrapped(obj, path, ("amount", "value"))
    currency = raw.get("currencyID") if isinstance(raw, Mapping) else None
    if isinstance(raw, Mapping) and where == path:
        raise ValueProblem("is an object without 'amount' or 'value'")
    number = decimal(value)
    if number is None:
        return None
    if abs(number) > MONEY_MAX:
        raise ValueProblem(f"{shown(value)} is beyond DECIMAL(12,2) (at most {MONEY_MAX})")
    if number != number.quantize(CENT):
        raise ValueProblem(f"{shown(value)} has fractions of a cent; an invoice amount is whole cents")
    if currency is not None and not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        raise ValueProblem(f"has currencyID {shown(currency)}, not an ISO 4217 code such as 'EUR'")
    consumed.add(where)
    if currency is not None:
        consumed.add((*path, "currencyID"))
    return Money(number.quantize(CENT) + 0, currency)


def number(obj: Any, path: Path, consumed: Consumed, *, digits: int, scale: int) -> Decimal | None:
    """A quantity or a percentage (``DECIMAL(digits, scale)``): a number, a numeric string or ``{"value": x}``."""
    value, where = unwrapped(obj, path)
    parsed = decimal(value)
    if parsed is None:
        return None
    step = Decimal(1).scaleb(-scale)
    if abs(parsed) >= Decimal(10) ** (digits - scale):
        raise ValueProblem(f"{shown(value)} is beyond DECIMAL({digits},{scale})")
    if parsed != parsed.quantize(step):
        raise ValueProblem(f"{shown(value)} has more than {scale} decimals")
    consumed.add(where)
    return parsed.quantize(step) + 0


def text(obj: Any, path: Path, consumed: Consumed) -> str | None:
    """Text: a string or number, ``{"value": ...}``, or the first of a list of those."""
    value, where = unwrapped(obj, path)
    if isinstance(value, list):
        if not value:
            consumed.add(where)
            return None
        value, where = unwrapped(obj, (*where, 0))
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueProblem(f"is {described(value)}, not text")
    consumed.add(where)
    return str(value)


def code(obj: Any, path: Path, consumed: Consumed, *, required: bool = False) -> str | None:
    """An id or a code (a string or a whole number, no control characters), possibly ``{"value": ...}``."""
    value, where = unwrapped(obj, path)
    values.code(value, required=required)
    if value is None or value == "":
        return None
    consumed.add(where)
    return str(value)


def day(obj: Any, path: Path, consumed: Consumed, *, not_after: date | None = None) -> date | None:
    """A date: ISO 8601 text (a date, a date with a zone, a date-time: its Amsterdam date) or epoch time."""
    value, where = unwrapped(obj, path)
    if value is None or value == "":
        return None
    if isinstance(value, str) and (match := _DAY_WITH_ZONE.fullmatch(value.strip())):
        try:
            found = date.fromisoformat(match.group(1))
        except ValueError:
            raise ValueProblem(f"{shown(value)} is not a date") from None
    else:
        found = instant(value).astimezone(AMSTERDAM).date()
    if found < EARLIEST_DAY or (not_after is not None and found > not_after):
        raise ValueProblem(f"{shown(value)} ({found}) is not a date of a bol invoice")
    consumed.add(where)
    return found


def is_day_text(value: Any) -> bool:
    """Whether ``value`` is ISO 8601 date text without a time (``2026-03-01``, ``2026-03-01+01:00``)."""
    return isinstance(value, str) and _DAY_WITH_ZONE.fullmatch(value.strip()) is not None


def instant(value: Any) -> datetime:
    """A moment from ISO 8601 date-time text (without a zone: Amsterdam time) or epoch seconds/milliseconds."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueProblem(f"{shown(value)} is not an epoch time")
        seconds = value / 1000 if value >= EPOCH_MS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueProblem(f"{shown(value)} is not an epoch time") from None
    if not isinstance(value, str):
        raise ValueProblem(f"is {described(value)}, not a date or an epoch time")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueProblem(f"{shown(value)} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=AMSTERDAM)


def residual(obj: Any, consumed: Consumed, path: Path = ()) -> Any:
    """``obj`` without the values ``consumed`` names (objects and lists left empty are dropped); None when
    nothing is left."""
    if path in consumed.paths:
        return None
    if isinstance(obj, Mapping):
        kept = {}
        for key, value in obj.items():
            rest = residual(value, consumed, (*path, key))
            if rest is not None:
                kept[key] = rest
        return kept or None
    if isinstance(obj, list):
        items = [residual(value, consumed, (*path, index)) for index, value in enumerate(obj)]
        kept_items = [item for item in items if item is not None]
        return kept_items or None
    return obj
