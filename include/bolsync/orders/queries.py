"""The order-list queries that cover a window.

bol's ``latest-change-date`` is a Dutch (Europe/Amsterdam) calendar date and reaches back 3 months;
``change-interval-minute`` reaches back at most 60 minutes from the moment of the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from bolsync.runs.windows import AMSTERDAM, SyncWindow, check_history

MAX_CHANGE_INTERVAL_MINUTES = 60


@dataclass(frozen=True)
class OrderQuery:
    """One filter for ``GET /retailer/orders`` (exactly one of the two is set)."""

    latest_change_date: str | None = None
    change_interval_minute: int | None = None

    def describe(self) -> str:
        if self.latest_change_date:
            return f"latest-change-date={self.latest_change_date}"
        return f"change-interval-minute={self.change_interval_minute}"


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
