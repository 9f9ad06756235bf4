"""Which issue dates a run lists, and in which requests (pure).

``GET /retailer/invoices`` names the invoices issued in ``period-start-date`` .. ``period-end-date`` (Dutch dates,
both included); a requested period may span at most 31 days (bol answers 400 otherwise), so a run's days are
listed in consecutive periods of at most 31 days. The first period also reaches back over up to
:data:`LATE_DAYS` days before the run's first day, as far as its 31 days allow: that costs no request, and an
invoice bol published a little after the run that covered its issue date still lands (known invoices are not
read again, so the overlap costs nothing else either).

A run's days are its window's (the data interval: a week), or the ``period_start`` .. ``period_end`` its params
name (a manual run); a requested period must be over (it ends before today), so that it can be covered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from bolsync.runs.windows import AMSTERDAM, SyncWindow

#: The longest period one list request may name (bol's rule), in days, both ends included.
MAX_PERIOD_DAYS = 31
#: Days before the run's first day its first list request also names (when they fit in it).
LATE_DAYS = 7
START_PARAM = "period_start"
END_PARAM = "period_end"

Period = tuple[date, date]


class BadPeriod(ValueError):
    """The run's params name no period that can be listed (the message says why and what to give)."""


def list_periods(first: date, last: date, late_days: int = LATE_DAYS) -> list[Period]:
    """The periods (first and last day) that list ``first`` .. ``last``: at most 31 days each, the first one
    reaching back up to ``late_days`` before ``first`` where it has room."""
    if last < first:
        raise ValueError(f"the last day {last} is before the first {first}")
    periods: list[Period] = []
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=MAX_PERIOD_DAYS - 1))
        periods.append((start, end))
        start = end + timedelta(days=1)
    head_start, head_end = periods[0]
    room = MAX_PERIOD_DAYS - ((head_end - head_start).days + 1)
    periods[0] = (head_start - timedelta(days=min(late_days, room)), head_end)
    return periods


def days_of(window: SyncWindow) -> Period:
    """The first and last Dutch date of ``window``."""
    dates = window.amsterdam_dates()
    return dates[0], dates[-1]


def requested_window(params: Mapping[str, Any], now: datetime) -> SyncWindow | None:
    """The window of the issue dates ``period_start`` .. ``period_end`` (both included) the params name, or None
    when they name none; :class:`BadPeriod` when they name one that cannot be listed."""
    raw_start, raw_end = params.get(START_PARAM), params.get(END_PARAM)
    if not raw_start and not raw_end:
        return None
    if not raw_start or not raw_end:
        raise BadPeriod(
            f"give both {START_PARAM} and {END_PARAM} (YYYY-MM-DD, Dutch issue dates, both included), or neither "
            "to sync the run's own week"
        )
    start, end = _date(START_PARAM, raw_start), _date(END_PARAM, raw_end)
    today = now.astimezone(AMSTERDAM).date()
    if end < start:
        raise BadPeriod(f"{END_PARAM} {end} is before {START_PARAM} {start}")
    if end >= today:
        raise BadPeriod(
            f"{END_PARAM} {end} is not over yet (today is {today} in Amsterdam): bol may still issue invoices on it. "
            f"End the period on {today - timedelta(days=1)} at the latest."
        )
    return SyncWindow(_midnight(start), _midnight(end + timedelta(days=1)))


def _date(name: str, value: Any) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadPeriod(f"{name} {str(value)[:40]!r} is not a date like 2026-03-01") from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), AMSTERDAM)
