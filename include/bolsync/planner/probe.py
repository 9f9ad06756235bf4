"""The probe: how many order-list pages one Dutch day has, read with as few list calls as possible.

Page 1 of the day's ``latest-change-date`` list (the query the daily extract makes); when it is full, the
last non-empty page is found by doubling the page number, then by bisection between the last non-empty and
the first empty page read. The order ids of every non-empty page read are the day's sample; a day whose
estimate is large enough gets more pages read into its sample (``probe_day``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bolsync_provider.hooks.bol_retailer import MAX_ORDER_PAGES, ORDER_PAGE_SIZE

#: Reads page ``n`` of one day's list (``[]`` past its end).
PageReader = Callable[[int], list[dict[str, Any]]]
#: The subset of the given order ids the warehouse already holds.
KnownIds = Callable[[set[str]], set[str]]
#: Extra pages are read while the probe's calls stay within this share of the day's estimated calls.
EXTRA_PAGES_SHARE = 0.03


@dataclass
class DayProbe:
    """What the probe learnt of one day's list: its pages, its orders and a sample of its order ids."""

    day: date
    pages: int = 0
    last_page_size: int = 0
    probe_calls: int = 0
    #: Order ids of the pages read, by page number.
    sampled: dict[int, list[str]] = field(default_factory=dict)

    @property
    def orders(self) -> int:
        return 0 if self.pages == 0 else (self.pages - 1) * ORDER_PAGE_SIZE + self.last_page_size

    @property
    def sample_ids(self) -> set[str]:
        return {order_id for ids in self.sampled.values() for order_id in ids}

    @property
    def sample_fraction(self) -> float:
        """The share of the day's orders the sample holds (1.0 for an empty day)."""
        return 1.0 if not self.orders else min(1.0, len(self.sample_ids) / self.orders)


def probe_day(
    day: date, read_page: PageReader, known: KnownIds = lambda ids: set(), spend: float = EXTRA_PAGES_SHARE
) -> DayProbe:
    """Find the day's last non-empty page (see the module docstring), then widen the sample.

    The sample decides the estimate of orders fetched on two days of the range (see ``estimate``), so pages not
    read yet are added, spread over the list, while the probe's calls stay within ``spend`` of the day's own
    estimate (its list calls plus its orders at the sample's share of orders ``known`` to the warehouse).
    """
    probe = _search(day, read_page)
    unread = [page for page in _spread(probe.pages) if page not in probe.sampled]
    if not unread:
        return probe
    sample = probe.sample_ids
    new_share = len(sample - known(sample)) / len(sample)
    day_estimate = 2 * probe.pages + probe.orders * new_share
    for page in unread[: max(0, int(spend * day_estimate) - probe.probe_calls)]:
        probe.probe_calls += 1
        orders = read_page(page)
        if orders:
            probe.sampled[page] = [str(order.get("orderId")) for order in orders]
    return probe


def _spread(pages: int) -> list[int]:
    """Page numbers 1 .. ``pages`` in an order that spreads any prefix over the list (bisection order)."""
    order: list[int] = []
    spans = [(1, pages)]
    while spans:
        low, high = spans.pop(0)
        if low > high:
            continue
        middle = (low + high) // 2
        order.append(middle)
        spans += [(low, middle - 1), (middle + 1, high)]
    return order


def _search(day: date, read_page: PageReader) -> DayProbe:
    probe = DayProbe(day)

    def size(page: int) -> int:
        probe.probe_calls += 1
        orders = read_page(page)
        if orders:
            probe.sampled[page] = [str(order.get("orderId")) for order in orders]
        return len(orders)

    first = size(1)
    if first < ORDER_PAGE_SIZE:
        probe.pages, probe.last_page_size = (1, first) if first else (0, 0)
        return probe
    low, low_size, high = 1, first, 0  # low: the last non-empty page known; high: the first empty page known
    page = 2
    while not high:
        if page > MAX_ORDER_PAGES:
            raise ValueError(f"the order list of {day} has more than {MAX_ORDER_PAGES} pages")
        found = size(page)
        if not found:
            high = page
        else:
            low, low_size = page, found
            if found < ORDER_PAGE_SIZE:
                high = page + 1
            page *= 2
    while high - low > 1 and low_size == ORDER_PAGE_SIZE:
        middle = (low + high) // 2
        found = size(middle)
        if found:
            low, low_size = middle, found
        else:
            high = middle
    probe.pages, probe.last_page_size = low, low_size
    return probe
