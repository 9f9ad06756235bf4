"""What the warehouse columns hold, as checks of one JSON value (pure, no I/O).

Each check accepts null (a missing optional value) unless it is given ``required=True``, and raises
:class:`ValueProblem` saying what is wrong with the value; the stream's transform turns that into an
``InvalidRecord`` naming the record and the field (``runs.quarantine``). The limits are those of the columns in
``warehouse/sql/*.sql`` on both engines: ``INTEGER`` is 32 bits, ``DECIMAL(12, 2)`` holds at most ten digits
before the point, ``TIMESTAMPTZ`` needs a zone to mean one instant, ``VARCHAR`` ids hold no control characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1
#: The largest amount a ``DECIMAL(12, 2)`` column holds.
DECIMAL_12_2_MAX = 9_999_999_999.99
#: No bol time is older than this; earlier is garbage (and beyond pandas' and Python's range once in UTC).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
#: A time this far after the extract's own clock is garbage, not clock skew. A change time in the future
#: would also freeze the row: an item or offer only moves to a newer version.
FUTURE_TOLERANCE = timedelta(hours=1)
#: C0/C1 control characters and lone surrogates: never part of an id or a code.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SHOWN = 60


class ValueProblem(ValueError):
    """What is wrong with one value (without naming its record: the caller does)."""


def shown(value: Any) -> str:
    """The value as it appears in a message: JSON-like, cut short, control characters escaped."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    elif isinstance(value, Mapping | list):
        return f"(a JSON {'object' if isinstance(value, Mapping) else 'array'})"
    else:
        text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def described(value: Any) -> str:
    """Its JSON type and, for a scalar, the value: ``a string ('x')``, ``null``, ``an object``."""
    if value is None or isinstance(value, Mapping | list):
        return kind(value)
    return f"{kind(value)} ({shown(value)})"


def kind(value: Any) -> str:
    """The JSON type of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _missing(value: Any, required: bool, empty: bool = True) -> bool:
    """True for an absent value (null; with ``empty``, also ``""``) that may be absent; ValueProblem for one that
    must be there."""
    if value is None or (empty and value == ""):
        if required:
            raise ValueProblem("is missing (the warehouse column is NOT NULL)")
        return True
    return False


def integer(value: Any, required: bool = False) -> None:
    """An ``INTEGER``: a JSON number without fraction within 32 bits (a string, NaN or Infinity is not one)."""
    if type(value) is int and INTEGER_MIN <= value <= INTEGER_MAX:
        return
    if _missing(value, required, empty=False):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem(f"is {described(value)}, not a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueProblem(f"{shown(value)} is not a whole number")
    if not INTEGER_MIN <= value <= INTEGER_MAX:
        raise ValueProblem(f"{shown(value)} is outside INTEGER ({INTEGER_MIN}..{INTEGER_MAX})")


def amount(value: Any, required: bool = False) -> None:
    """A ``DECIMAL(12, 2)``: a finite JSON number of at most ten digits before the point (in cents)."""
    if type(value) is float and -DECIMAL_12_2_MAX <= value <= DECIMAL_12_2_MAX:
        return
    if _missing(value, required, empty=False):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem(f"is {described(value)}, not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"{shown(value)} is not a finite number")
    if abs(round(value, 2)) > DECIMAL_12_2_MAX:
        raise ValueProblem(f"{shown(value)} is beyond DECIMAL(12,2) (at most {DECIMAL_12_2_MAX:.2f})")


def boolean(value: Any, required: bool = False) -> None:
    """A ``BOOLEAN``: JSON true or false."""
    if value is True or value is False or (value is None and not required):
        return
    if value is None:
        raise ValueProblem("is missing (the warehouse column is NOT NULL)")
    raise ValueProblem(f"is {described(value)}, not true or false")


def code(value: Any, required: bool = False) -> None:
    """An id or code (``VARCHAR``): a string (or a whole number) without control characters."""
    if type(value) is str and value and not CONTROL.search(value):
        return
    if _missing(value, required):
        return
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueProblem(f"is {described(value)}, not a string")
    found = CONTROL.search(str(value))
    if found:
        raise ValueProblem(
            f"{shown(value)} contains the control character U+{ord(found.group()):04X}; ids and codes are never cleaned"
        )


def text(value: Any, required: bool = False) -> None:
    """Free text (``VARCHAR``; control characters are removed later): a string, or a number."""
    if type(value) is str or _missing(value, required):
        return
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueProblem(f"is {described(value)}, not text")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"{shown(value)} is not text")


def moment(value: Any, not_after: datetime | None = None, required: bool = False) -> None:
    """A ``TIMESTAMPTZ``: ISO 8601 text with a zone, from 1970 on, at most ``not_after`` (when given)."""
    if _missing(value, required):
        return
    if not isinstance(value, str):
        raise ValueProblem(f"is {described(value)}, not an ISO 8601 date/time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueProblem(f"{shown(value)} is not an ISO 8601 date/time") from None
    if parsed.tzinfo is None:
        raise ValueProblem(f"{shown(value)} has no timezone, so it is no single instant")
    if parsed < EARLIEST:
        raise ValueProblem(f"{shown(value)} is before {EARLIEST:%Y}")
    if not_after is not None and parsed > not_after:
        raise ValueProblem(
            f"{shown(value)} is later than the extract itself ({not_after - FUTURE_TOLERANCE:%Y-%m-%d %H:%M} "
            f"UTC, allowing {_hours(FUTURE_TOLERANCE)} of clock skew)"
        )


def day(value: Any, required: bool = False) -> None:
    """A ``DATE``: ISO 8601 text (``2026-11-20``)."""
    if _missing(value, required):
        return
    if not isinstance(value, str):
        raise ValueProblem(f"is {described(value)}, not an ISO 8601 date")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueProblem(f"{shown(value)} is not an ISO 8601 date") from None


def latest_allowed(extracted_at: datetime) -> datetime:
    """The latest time a record extracted at ``extracted_at`` may carry."""
    return extracted_at + FUTURE_TOLERANCE


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")
