"""A run's [start, end) window, and bol's 3 months of history (dates are Dutch calendar dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk.exceptions import AirflowFailException
from dateutil.relativedelta import relativedelta

from bolsync_provider.errors import BolWindowTooOld

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
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
            f"{oldest}. Start the backfill on {oldest} or later.",
            first_served=oldest,
        )


def run_window(context: Any) -> SyncWindow:
    """The window of the running DAG run (its data interval); fails the task when it has none."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or end <= start:
        raise AirflowFailException(
            "This DAG needs a [start, end) data interval; use its schedule, a backfill, or trigger with a logical date."
        )
    return SyncWindow(start, end)
