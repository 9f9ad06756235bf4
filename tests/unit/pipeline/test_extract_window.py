from __future__ import annotations

from datetime import UTC, datetime

from bolsync.orders.extract import _items_in_window
from bolsync.windows import SyncWindow

WINDOW = SyncWindow(datetime(2026, 11, 27, 9, tzinfo=UTC), datetime(2026, 11, 27, 10, tzinfo=UTC))


def _order(*stamps: str) -> dict:
    return {
        "orderId": "A",
        "orderItems": [{"orderItemId": str(n), "latestChangedDateTime": s} for n, s in enumerate(stamps)],
    }


def test_window_is_half_open_and_timezone_aware() -> None:
    order = _order(
        "2026-11-27T10:00:00+01:00",  # 09:00 UTC: the start, included
        "2026-11-27T10:59:59+01:00",  # inside
        "2026-11-27T11:00:00+01:00",  # 10:00 UTC: the end, excluded
        "2026-11-27T09:59:59+01:00",  # before
    )
    assert [i["orderItemId"] for i in _items_in_window(order, WINDOW)] == ["0", "1"]


def test_unreadable_times_are_kept_for_the_transform_to_reject() -> None:
    assert len(_items_in_window(_order("yesterday"), WINDOW)) == 1
    assert len(_items_in_window({"orderId": "A", "orderItems": [{"orderItemId": "1"}]}, WINDOW)) == 1
