"""Holes in the coverage of a stream and account: pure interval arithmetic and what each hole means.

A hole inside the history bol keeps of its stream (``StreamSpec.history``) is filled by a backfill of the
stream's ``backfill_dag``; the part of a hole older than that, and every hole of a stream bol keeps no history
of (offers, FBB stock), is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from bolsync.runs.windows import AMSTERDAM
from bolsync.streams import registry

Span = tuple[datetime, datetime]
Kind = Literal["backfill", "lost"]
#: A day is expected to be covered once its daily run had this long to finish.
GRACE = timedelta(hours=6)


@dataclass(frozen=True)
class Hole:
    """A [start, end) no successful load covered, and whether a backfill can still fill it."""

    stream: str
    conn_id: str
    start: datetime
    end: datetime
    kind: Kind

    @property
    def first_day(self) -> date:
        return self.start.astimezone(AMSTERDAM).date()

    @property
    def last_day(self) -> date:
        """The last Dutch day the hole touches."""
        return (self.end - timedelta(microseconds=1)).astimezone(AMSTERDAM).date()


def merged(spans: Iterable[Span]) -> list[Span]:
    """The union of ``spans`` as sorted, disjoint spans (touching spans join)."""
    result: list[Span] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


def subtract(spans: Iterable[Span], minus: Iterable[Span]) -> list[Span]:
    """The parts of ``spans`` outside every span of ``minus``."""
    cut = merged(minus)
    result: list[Span] = []
    for start, end in merged(spans):
        for cut_start, cut_end in cut:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                result.append((start, cut_start))
            start = max(start, cut_end)
            if start >= end:
                break
        if start < end:
            result.append((start, end))
    return result


def check_span(
    covered: Sequence[Span],
    history_start: date | None,
    lookback: timedelta,
    now: datetime,
    lag: timedelta = timedelta(),
) -> Span | None:
    """What the check expects to be covered: from the history start (else the first covered window), at most
    ``lookback`` back, to the last Amsterdam midnight at least ``GRACE`` (and the stream's ``lag``: a weekly
    stream's day is covered up to a week later) ago; None when there is nothing."""
    end = amsterdam_midnight((now - GRACE - lag).astimezone(AMSTERDAM).date())
    if history_start is not None:
        start = amsterdam_midnight(history_start)
    elif covered:
        start = min(s for s, _ in covered)
    else:
        return None
    start = max(start, now - lookback)
    return (start, end) if start < end else None


def holes(stream: str, conn_id: str, covered: Sequence[Span], span: Span, now: datetime) -> list[Hole]:
    """The uncovered parts of ``span``, split at the history bol keeps of the stream."""
    spec = registry.stream(stream)
    served = spec.oldest_served(now)
    oldest = amsterdam_midnight(served) if served is not None else None
    result = []
    for start, end in subtract([span], covered):
        if not spec.keeps_history:
            result.append(Hole(stream, conn_id, start, end, "lost"))
            continue
        if oldest is not None and start < oldest:
            result.append(Hole(stream, conn_id, start, min(end, oldest), "lost"))
        if oldest is None or end > oldest:
            result.append(Hole(stream, conn_id, max(start, oldest) if oldest else start, end, "backfill"))
    return result


def amsterdam_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), AMSTERDAM)
