"""A stream's calendar: the state of each Dutch day from its synced windows and its holes (pure, no I/O)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from bolsync.runs.gaps import Hole, amsterdam_midnight, subtract
from bolsync.runs.windows import AMSTERDAM

#: Days the page shows per stream, ending today.
CALENDAR_DAYS = 100


class DayState(StrEnum):
    """What a day of a stream is, for the page's legend."""

    SYNCED = "synced"
    #: Partly synced (the rest not due yet), or synced with records held in the quarantine.
    PARTIAL = "partial"
    #: A hole a backfill can still fill.
    HOLE = "hole"
    #: A hole older than the history bol keeps (or of a stream bol keeps none of): lost.
    LOST = "lost"
    #: Nothing expected: before the first synced window, or not due yet.
    NONE = "none"


@dataclass(frozen=True)
class Window:
    """One synced window of ``bol.sync_coverage`` and the records it landed without."""

    start: datetime
    end: datetime
    quarantined: int = 0


def calendar_days(today: date, count: int = CALENDAR_DAYS) -> list[date]:
    """The ``count`` Dutch days ending with ``today``, oldest first."""
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def day_state(day: date, windows: Sequence[Window], holes: Sequence[Hole]) -> DayState:
    """The state of one Dutch day: a hole touching it wins (lost first), then what its windows cover."""
    start, end = amsterdam_midnight(day), amsterdam_midnight(day + timedelta(days=1))
    touching = [h for h in holes if h.start < end and start < h.end]
    if any(h.kind == "lost" for h in touching):
        return DayState.LOST
    if touching:
        return DayState.HOLE
    overlapping = [w for w in windows if w.start < end and start < w.end]
    if not overlapping:
        return DayState.NONE
    if subtract([(start, end)], [(w.start, w.end) for w in overlapping]):
        return DayState.PARTIAL
    if any(w.quarantined for w in overlapping):
        return DayState.PARTIAL
    return DayState.SYNCED


def calendar(days: Sequence[date], windows: Sequence[Window], holes: Sequence[Hole]) -> list[DayState]:
    """The state of each of ``days`` (each window and hole is looked at only for the days it touches)."""
    wanted = set(days)
    by_day: dict[date, list[Window]] = defaultdict(list)
    holes_by_day: dict[date, list[Hole]] = defaultdict(list)
    for window in windows:
        for day in _days_touched(window.start, window.end, wanted):
            by_day[day].append(window)
    for hole in holes:
        for day in _days_touched(hole.start, hole.end, wanted):
            holes_by_day[day].append(hole)
    return [day_state(day, by_day.get(day, []), holes_by_day.get(day, [])) for day in days]


def _days_touched(start: datetime, end: datetime, wanted: set[date]) -> list[date]:
    """The Dutch days among ``wanted`` that [start, end) overlaps."""
    if not wanted or end <= start:
        return []
    first = max(start.astimezone(AMSTERDAM).date(), min(wanted))
    last = min((end - timedelta(microseconds=1)).astimezone(AMSTERDAM).date(), max(wanted))
    return [first + timedelta(days=n) for n in range((last - first).days + 1) if first + timedelta(days=n) in wanted]


def today_in_amsterdam(now: datetime) -> date:
    return now.astimezone(AMSTERDAM).date()
