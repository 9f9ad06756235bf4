"""The settle passes of extract: bol's order list is live and paged by number, so an order can move onto a
page already read while a query is paged; extract re-reads the earlier pages to find it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bolsync.orders.extract import LIST_FILE, MAX_SETTLE_PASSES, extract_orders
from bolsync.runs.staging import read_ndjson
from bolsync.runs.windows import AMSTERDAM, SyncWindow
from bolsync_provider.hooks.bol_retailer import ORDER_PAGE_SIZE

DAY = SyncWindow(datetime(2026, 11, 20, tzinfo=AMSTERDAM), datetime(2026, 11, 21, tzinfo=AMSTERDAM))
NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)  # a day later: one latest-change-date query
QUERY = "latest-change-date=2026-11-20"


def _order(n: int) -> dict:
    return {
        "orderId": f"O{n:04d}",
        "orderItems": [{"orderItemId": f"I{n:04d}", "latestChangedDateTime": "2026-11-20T12:00:00+01:00"}],
    }


class LiveListHook:
    """A hook over one day's live order list (newest first, pages of bol's size) that changes between page
    reads: ``changes[k]`` runs just before the k-th order-list call (1-based) is answered."""

    bol_conn_id = "live"
    retailer_id = "42"

    def get_retailer_id(self) -> str:
        return self.retailer_id

    def __init__(self, count: int, changes: dict[int, Callable[[list[dict]], None]] | None = None) -> None:
        self.orders = [_order(n) for n in range(count)]
        self.changes = changes or {}
        self.calls: list[int] = []  # the page number of every order-list call, in order

    def get_orders_page(self, page: int, **query: object) -> list[dict]:
        assert query == {"latest_change_date": "2026-11-20", "change_interval_minute": None}
        self.calls.append(page)
        change = self.changes.get(len(self.calls))
        if change:
            change(self.orders)
        start = (page - 1) * ORDER_PAGE_SIZE
        return [dict(o) for o in self.orders[start : start + ORDER_PAGE_SIZE]]

    def iter_order_pages(self, **query: object) -> Iterator[list[dict]]:
        page = 1
        while orders := self.get_orders_page(page, **query):
            yield orders
            page += 1

    def get_order(self, order_id: str) -> dict:
        raise AssertionError("every listed order is known to the warehouse in these tests")


def _leave(position: int) -> Callable[[list[dict]], None]:
    """The order at ``position`` leaves the day's list (one of its items changed today)."""
    return lambda orders: orders.pop(position) and None


def _extract(hook: LiveListHook, staging: Path):
    result = extract_orders(hook, DAY, NOW, staging, lambda _retailer, ids: set(ids))  # type: ignore[arg-type]
    staged = [o["orderId"] for o in read_ndjson(staging / LIST_FILE)]
    assert len(staged) == len(set(staged)), "an order is staged once per query"
    return result, set(staged)


def test_single_page_needs_no_settle_pass(tmp_path: Path) -> None:
    hook = LiveListHook(30)
    result, staged = _extract(hook, tmp_path)
    assert hook.calls == [1, 2]  # the page and the empty page that ends the list
    assert (result.pages, result.settle_pages, result.unsettled_queries) == (1, 0, [])
    assert len(staged) == 30


def test_order_moving_onto_a_page_already_read_is_found_by_the_settle_pass(tmp_path: Path) -> None:
    # 120 orders: pages of 50, 50, 20. Before page 2 is answered, the 11th order leaves the day's list:
    # the 51st moves up onto page 1, already read, and page 2 starts with the 52nd.
    hook = LiveListHook(120, {2: _leave(10)})
    moved = hook.orders[50]["orderId"]
    result, staged = _extract(hook, tmp_path)

    first_pass, settle = hook.calls[:4], hook.calls[4:]
    assert first_pass == [1, 2, 3, 4]
    # The last page was not full, so only the pages before it are re-read, last first; the first settle
    # pass finds the moved order, the second finds nothing new and ends the settling.
    assert settle == [2, 1, 2, 1]
    assert moved in staged
    assert staged == {_order(n)["orderId"] for n in range(120)}  # the leaver was listed on page 1
    assert result.settle_pages == 4
    assert result.pages == 3 + 4
    assert result.settle_orders_found == 1
    assert result.orders_listed == 120
    assert result.unsettled_queries == []


def test_a_full_last_page_is_re_read_too(tmp_path: Path) -> None:
    # 51 orders; one on page 1 leaves before page 2 is asked for: the 51st moves onto page 1 and page 2 is
    # empty. The only page was full, so it is re-read.
    hook = LiveListHook(51, {2: _leave(0)})
    moved = hook.orders[50]["orderId"]
    result, staged = _extract(hook, tmp_path)
    assert hook.calls == [1, 2, 1, 1]
    assert moved in staged
    assert (result.settle_pages, result.settle_orders_found) == (2, 1)


def test_orders_moving_during_a_settle_pass_are_met_by_it(tmp_path: Path) -> None:
    # 200 orders: pages of 50. Before page 3 of the first pass, an order of page 1 leaves: the 101st moves
    # onto page 2, already read. While the settle pass re-reads, a batch of 50 orders leaves at once, moving
    # that order on to page 1. Read first page first, the pass would miss it again (and, finding nothing,
    # end the settling); read last page first, it meets it on page 1.
    def batch(orders: list[dict]) -> None:
        del orders[:ORDER_PAGE_SIZE]

    hook = LiveListHook(200, {3: _leave(0), 7: batch})
    everyone = {o["orderId"] for o in hook.orders}
    moved = hook.orders[100]["orderId"]
    result, staged = _extract(hook, tmp_path)
    assert hook.calls[:5] == [1, 2, 3, 4, 5]  # 199 orders: the 4th page is not full
    assert hook.calls[5:] == [3, 2, 1, 3, 2, 1]
    assert moved in staged
    assert staged == everyone
    assert (result.settle_orders_found, result.unsettled_queries) == (1, [])


def _join(n: int) -> Callable[[list[dict]], None]:
    """A new order enters the day's list in front."""
    return lambda orders: orders.insert(0, _order(n))


def test_a_list_that_never_settles_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Before every call a new order enters the list in front: every settle pass finds one on page 1.
    hook = LiveListHook(120, {call: _join(1000 + call) for call in range(2, 40)})
    with caplog.at_level(logging.WARNING, logger="bolsync.orders.extract"):
        result, staged = _extract(hook, tmp_path)
    assert hook.calls[:4] == [1, 2, 3, 4]  # 123 orders when page 3 is read: 3 pages, the last not full
    assert hook.calls[4:] == [2, 1] * MAX_SETTLE_PASSES
    assert result.settle_pages == 2 * MAX_SETTLE_PASSES
    assert result.unsettled_queries == [QUERY]
    assert {f"O{n:04d}" for n in range(120)} <= staged
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(QUERY in w and "not settled" in w for w in warnings), warnings
