"""The order-list queries that cover a window.

bol's ``latest-change-date`` is a Dutch (Europe/Amsterdam) calendar date and reaches back 3 months;
``change-interval-minute`` reaches back at most 60 minutes from the moment of each call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bolsync.runs.windows import AMSTERDAM, SyncWindow, check_history
from bolsync_provider.hooks.bol_retailer import describe_order_query

MAX_CHANGE_INTERVAL_MINUTES = 60
#: How far bol's clock may be ahead of ours.
CLOCK_SKEW = timedelta(minutes=1)
#: Minutes a change-interval query reaches back beyond the window's start: bol counts the interval back from
#: each call, so it must still reach the start at the query's last call (clock skew, paging, rate-budget waits).
INTERVAL_SLACK_MINUTES = 3


@dataclass(frozen=True)
class OrderQuery:
    """One filter for ``GET /retailer/orders`` (exactly one of the two is set)."""

    latest_change_date: str | None = None
    change_interval_minute: int | None = None

    def describe(self) -> str:
        return describe_order_query(self.latest_change_date, self.change_interval_minute)


def plan_queries(window: SyncWindow, now: datetime) -> list[OrderQuery]:
    """The cheapest queries that return every item whose latest change falls in ``window``.

    When the span from the window's start to now, plus ``INTERVAL_SLACK_MINUTES``, fits in bol's 60-minute
    change interval, one ``change-interval-minute`` query does (a run of a 15-minute window up to about 40
    minutes late); otherwise the ``latest-change-date`` queries of :func:`date_queries`, so a late run loses
    nothing. An hourly window is over before its run starts, so it always takes dates.
    """
    check_history(window, now)
    minutes_back = math.ceil((now - window.start).total_seconds() / 60) + INTERVAL_SLACK_MINUTES
    if minutes_back <= MAX_CHANGE_INTERVAL_MINUTES:
        return [OrderQuery(change_interval_minute=max(1, minutes_back))]
    return date_queries(window, now)


def date_queries(window: SyncWindow, now: datetime) -> list[OrderQuery]:
    """One ``latest-change-date`` query per Dutch date the window touches, up to today."""
    check_history(window, now)
    today = now.astimezone(AMSTERDAM).date()
    return [OrderQuery(latest_change_date=day.isoformat()) for day in window.amsterdam_dates() if day <= today]


def reaches_window_start(query: OrderQuery, window: SyncWindow, called_at: datetime) -> bool:
    """Whether ``query``, answered at ``called_at``, still returned every change since the window's start.

    Always true for a date query; a change-interval query reaches back its minutes from the call, less the
    clock skew bol's clock may have.
    """
    if query.change_interval_minute is None:
        return True
    return called_at - timedelta(minutes=query.change_interval_minute) + CLOCK_SKEW <= window.start
