from __future__ import annotations

from datetime import UTC, datetime

from bolsync.orders.extract import _items_in_window
from bolsync.runs.windows import SyncWindow

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


def test_what_the_filter_cannot_judge_is_kept_for_the_checks_never_dropped() -> None:
    far = _order("2026-11-30T10:00:00+01:00", "9999-12-31T23:59:59+01:00", "2026-11-28T10:00:00+01:00")
    assert [i["orderItemId"] for i in _items_in_window(far, WINDOW)] == ["0", "1"]  # days after: bad data
    odd = {"orderId": "A", "orderItems": ["6107771545", None, [1], {"orderItemId": "1"}]}
    assert _items_in_window(odd, WINDOW) == odd["orderItems"]
    assert _items_in_window({"orderId": "A", "orderItems": "6107771545"}, WINDOW) == "6107771545"


class _StubHook:
    """The two hook calls extract uses, answering from memory (unit test of the extract layer only)."""

    bol_conn_id = "stub"
    retailer_id = "42"

    def get_retailer_id(self) -> str:
        return self.retailer_id

    def __init__(self, pages: list[list[dict]]) -> None:
        self.pages = pages
        self.detail_calls: list[str] = []

    def iter_order_pages(self, **_: object):
        yield from self.pages

    def get_order(self, order_id: str) -> dict:
        self.detail_calls.append(order_id)
        return {"orderId": order_id, "orderItems": [], "shipmentDetails": {"firstName": "Zoë", "countryCode": "NL"}}


def test_retry_reuses_staged_details_and_drops_stale_ones(tmp_path) -> None:
    import json

    from bolsync.orders.extract import DETAILS_FILE, extract_orders
    from bolsync.runs.staging import NdjsonWriter, read_ndjson

    with NdjsonWriter(tmp_path / DETAILS_FILE, append=False) as staged:
        staged.write({"orderId": "B", "orderItems": []})  # fetched by a crashed attempt, still needed
        staged.write({"orderId": "STALE", "orderItems": []})  # no longer in this attempt's list
    hook = _StubHook([[_order_with("A", "2026-11-27T09:30:00+00:00"), _order_with("B", "2026-11-27T09:40:00+00:00")]])
    result = extract_orders(hook, WINDOW, datetime(2026, 11, 27, 12, tzinfo=UTC), tmp_path, lambda _r, _ids: set())
    assert hook.detail_calls == ["A"]
    assert (result.order_details_fetched, result.order_details_reused) == (1, 1)
    staged_ids = sorted(o["orderId"] for o in read_ndjson(tmp_path / DETAILS_FILE))
    assert staged_ids == ["A", "B"]
    assert "Zoë" not in json.dumps(list(read_ndjson(tmp_path / DETAILS_FILE)), ensure_ascii=False)


def _order_with(order_id: str, changed: str) -> dict:
    return {"orderId": order_id, "orderItems": [{"orderItemId": f"{order_id}1", "latestChangedDateTime": changed}]}
