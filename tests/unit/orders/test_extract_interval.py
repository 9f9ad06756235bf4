"""A frequent run's change-interval query: one page and no settle pass when quiet, and the window listed again
by date when paging took so long that bol's interval (counted back from each call) no longer reached its start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bolsync.orders.extract import LIST_FILE, extract_orders
from bolsync.runs.staging import read_ndjson
from bolsync.runs.windows import SyncWindow
from bolsync_provider.hooks.bol_retailer import ORDER_PAGE_SIZE

END = datetime(2026, 11, 27, 10, tzinfo=UTC)
WINDOW = SyncWindow(END - timedelta(minutes=15), END)
NOW = END + timedelta(seconds=30)
INTERVAL = {"latest_change_date": None, "change_interval_minute": 19}
DATE = {"latest_change_date": "2026-11-27", "change_interval_minute": None}


class ClockedHook:
    """Orders changed in the window, served for any filter; every order-list call takes ``call_minutes`` of
    the test's clock (a wait for the rate budget behind other runs)."""

    bol_conn_id = "clocked"

    def __init__(self, count: int, call_minutes: float = 0.0) -> None:
        changed = (WINDOW.start + timedelta(minutes=5)).isoformat()
        self.orders = [
            {"orderId": f"O{n:04d}", "orderItems": [{"orderItemId": f"I{n:04d}", "latestChangedDateTime": changed}]}
            for n in range(count)
        ]
        self.now = NOW
        self.call_minutes = call_minutes
        self.calls: list[tuple[int, dict[str, object]]] = []

    def get_retailer_id(self) -> str:
        return "42"

    def clock(self) -> datetime:
        return self.now

    def get_orders_page(self, page: int, **query: object) -> list[dict]:
        self.calls.append((page, query))
        self.now += timedelta(minutes=self.call_minutes)
        start = (page - 1) * ORDER_PAGE_SIZE
        return [dict(o) for o in self.orders[start : start + ORDER_PAGE_SIZE]]

    def iter_order_pages(self, **query: object) -> Iterator[list[dict]]:
        page = 1
        while orders := self.get_orders_page(page, **query):
            yield orders
            page += 1


def _all_known(_retailer_id: str, order_ids: set[str]) -> set[str]:
    return set(order_ids)  # every order is in the warehouse: no detail calls


def _extract(hook: ClockedHook, staging: Path):
    result = extract_orders(hook, WINDOW, NOW, staging, _all_known, clock=hook.clock)  # type: ignore[arg-type]
    staged = [o["orderId"] for o in read_ndjson(staging / LIST_FILE)]
    return result, staged


def test_a_quiet_quarter_hour_is_one_page_and_the_end_of_the_list(tmp_path: Path) -> None:
    hook = ClockedHook(30)
    result, staged = _extract(hook, tmp_path)
    assert hook.calls == [(1, INTERVAL), (2, INTERVAL)]  # no settle pass after a single page that is not full
    assert (result.queries, result.pages, result.settle_pages) == (["change-interval-minute=19"], 1, 0)
    assert len(staged) == 30


def test_paging_past_the_interval_lists_the_window_again_by_date(tmp_path: Path) -> None:
    # 120 orders: 3 pages, the end, 2 settle re-reads; at a minute per call the interval of 19 minutes no
    # longer reaches back to 09:45 by the last call, so orders changed at the start may have dropped out.
    hook = ClockedHook(120, call_minutes=1)
    result, staged = _extract(hook, tmp_path)
    assert [query for _, query in hook.calls] == [INTERVAL] * 6 + [DATE] * 6
    assert result.queries == ["change-interval-minute=19", "latest-change-date=2026-11-27"]
    assert sorted(staged) == sorted(o["orderId"] for o in hook.orders)  # each once: the list file is rewritten
    assert (result.orders_listed, result.items_listed, result.pages) == (120, 120, 10)


def test_paging_within_the_slack_keeps_the_interval(tmp_path: Path) -> None:
    hook = ClockedHook(120, call_minutes=0.25)  # six calls in a minute and a half
    result, staged = _extract(hook, tmp_path)
    assert [query for _, query in hook.calls] == [INTERVAL] * 6
    assert result.queries == ["change-interval-minute=19"]
    assert len(staged) == 120
