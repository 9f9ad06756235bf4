"""Sync windows and the order-list queries that cover them.

bol's ``latest-change-date`` is a Dutch (Europe/Amsterdam) calendar date and reaches back 3 months;
``change-interval-minute`` reaches back at most 60 minutes from the moment of the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from bolsync_provider.exceptions import BolWindowTooOld

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_CHANGE_INTERVAL_MINUTES = 60
HISTORY_MONTHS = 3


@dataclass(frozen=True)
class SyncWindow:
    """A half-open [start, end) interval of latest-change times, both timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} is not after its start {self.start}")

    def amsterdam_dates(self) -> list[date]:
        """Every Dutch calendar date the window touches."""
        first = self.start.astimezone(AMSTERDAM).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(AMSTERDAM).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class OrderQuery:
    """One filter for ``GET /retailer/orders`` (exactly one of the two is set)."""

    latest_change_date: str | None = None
    change_interval_minute: int | None = None

    def describe(self) -> str:
        if self.latest_change_date:
            return f"latest-change-date={self.latest_change_date}"
        return f"change-interval-minute={self.change_interval_minute}"


def oldest_allowed_date(now: datetime) -> date:
    """The oldest ``latest-change-date`` bol still serves at ``now``."""
    return now.astimezone(AMSTERDAM).date() - relativedelta(months=HISTORY_MONTHS)


def check_history(window: SyncWindow, now: datetime) -> None:
    """Raise BolWindowTooOld when part of the window lies beyond bol's 3 months of order history."""
    oldest = oldest_allowed_date(now)
    first = window.amsterdam_dates()[0]
    if first < oldest:
        raise BolWindowTooOld(
            f"window {window.start.isoformat()} .. {window.end.isoformat()} starts on {first} (Amsterdam date), "
            f"but bol keeps only {HISTORY_MONTHS} months of order history: the oldest date it serves today is "
            f"{oldest}. Start the backfill on {oldest} or later."
        )


def plan_queries(window: SyncWindow, now: datetime) -> list[OrderQuery]:
    """The cheapest queries that return every item whose latest change falls in ``window``.

    When the whole span from the window's start to now fits in bol's 60-minute change interval, one
    ``change-interval-minute`` query does (a minute of slack for clock skew); otherwise one
    ``latest-change-date`` query per Dutch date the window touches, so a late run loses nothing.
    """
    check_history(window, now)
    minutes_back = math.ceil((now - window.start).total_seconds() / 60) + 1
    if minutes_back <= MAX_CHANGE_INTERVAL_MINUTES:
        return [OrderQuery(change_interval_minute=max(1, minutes_back))]
    today = now.astimezone(AMSTERDAM).date()
    return [OrderQuery(latest_change_date=day.isoformat()) for day in window.amsterdam_dates() if day <= today]
