"""The arithmetic of a plan: list calls, detail calls and wall time per day and in total (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bolsync.planner.probe import DayProbe
from bolsync_provider.hooks.bol_retailer import ORDER_PAGE_SIZE

#: The budget's windows are stretched by this fraction (``budget.rate_budget.WINDOW_SAFETY_FRACTION``).
WINDOW_STRETCH = 1.03


def list_calls(pages: int, last_page_size: int) -> int:
    """Order-list calls the daily extract makes for one day's list of ``pages`` non-empty pages.

    It reads every page and the empty one that ends the list; a multi-page (or one full) list is then
    settled once when it is stable: pages 1 .. pages-1 again, and the last page too when it is full.
    """
    if pages <= 0:
        return 1
    settle = pages - 1 + (1 if last_page_size >= ORDER_PAGE_SIZE else 0)
    return pages + 1 + settle


@dataclass(frozen=True)
class DayEstimate:
    """One day of a plan."""

    day: date
    pages: int
    orders: int
    list_calls: int
    details: int
    probe_calls: int = 0

    @property
    def calls(self) -> int:
        return self.list_calls + self.details


def estimate_days(probes: Sequence[DayProbe], known: set[str]) -> list[DayEstimate]:
    """Per day: list calls, and details = the day's orders neither in the warehouse nor fetched on an earlier day.

    The share of the sample the warehouse knows scales the day's orders. Orders listed on several days of the
    range (their items changed on different days) are fetched once, on the first: each order id sampled on
    two days counts ``1 / (f1 * f2)`` such orders (``f``: each day's share of orders in its sample), taken
    from the later day. Days are taken in date order, like the backfill's runs.
    """
    ordered = sorted(probes, key=lambda p: p.day)
    unknown = [p.sample_ids - known for p in ordered]
    result = []
    for index, probe in enumerate(ordered):
        sample = probe.sample_ids
        new_share = len(unknown[index]) / len(sample) if sample else 0.0
        details = probe.orders * new_share
        for earlier, earlier_unknown in zip(ordered[:index], unknown[:index], strict=True):
            shared = len(unknown[index] & earlier_unknown)
            if shared:
                details -= shared / (probe.sample_fraction * earlier.sample_fraction)
        result.append(
            DayEstimate(
                day=probe.day,
                pages=probe.pages,
                orders=probe.orders,
                list_calls=list_calls(probe.pages, probe.last_page_size),
                details=max(0, round(details)),
                probe_calls=probe.probe_calls,
            )
        )
    return result


@dataclass(frozen=True)
class Limits:
    """The credential's request budget and bol's per-endpoint limits, as (requests, seconds)."""

    per_second: float
    per_hour: int
    order_list: tuple[int, float]
    order_detail: tuple[int, float]
    #: Calls this account's syncs made in the last hour (bol.sync_runs), taken off the hourly budget.
    used_last_hour: int = 0

    @property
    def hourly_left(self) -> int:
        return max(1, self.per_hour - self.used_last_hour)


def wall_seconds(list_total: int, detail_total: int, limits: Limits) -> float:
    """The least time the calls take under every limit at once (runs of several days overlap).

    The credential's per-second and hourly budgets bound all calls; the list endpoint (25/min by default)
    and the detail endpoint bound their own. The first hour may use what is left of the hourly budget;
    later hours the whole of it.
    """
    total = list_total + detail_total
    bounds = [
        total / limits.per_second,
        list_total * limits.order_list[1] / limits.order_list[0],
        detail_total * limits.order_detail[1] / limits.order_detail[0],
    ]
    if total > limits.hourly_left:
        bounds.append(3600.0 * (1 + (total - limits.hourly_left) / limits.per_hour))
    return max(bounds) * WINDOW_STRETCH
