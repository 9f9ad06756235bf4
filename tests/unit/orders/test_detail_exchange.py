"""The detail exchange on the in-memory shared state: claims, published details, lapsed claims, 404s."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from bolsync.orders.detail_exchange import DetailExchange, exchanged_details, withdraw
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.errors import BolInconsistentResponse


def _fetcher(calls: list[str], missing: frozenset[str] = frozenset()) -> Any:
    def fetch(order_id: str) -> dict[str, Any] | None:
        calls.append(order_id)
        return None if order_id in missing else {"orderId": order_id, "orderItems": []}

    return fetch


def test_two_runs_at_once_fetch_each_order_once(tmp_path: Path) -> None:
    state = MemorySharedState()
    calls: list[str] = []
    ids = [f"O{n:03d}" for n in range(60)]
    got: dict[int, list[str]] = {}

    def run(number: int) -> None:
        exchange = DetailExchange(tmp_path, state, "42", warehouse="w")
        got[number] = [d.order_id for d in exchanged_details(ids, _fetcher(calls), exchange) if d.order]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(calls) == ids
    assert sorted(got[0]) == sorted(got[1]) == ids


def test_a_lapsed_claim_is_taken_over_and_a_404_is_shared(tmp_path: Path) -> None:
    state = MemorySharedState()
    dead = DetailExchange(tmp_path, state, "42", warehouse="w", claim_ttl=0.3)
    assert dead.claim("A")
    calls: list[str] = []
    exchange = DetailExchange(tmp_path, state, "42", warehouse="w")
    details = {d.order_id: d for d in exchanged_details(["A", "B"], _fetcher(calls, frozenset({"B"})), exchange)}
    assert calls == ["B", "A"]  # A was waited for until its claim lapsed
    assert details["A"].fetched
    assert details["A"].order == {"orderId": "A", "orderItems": []}
    assert details["B"].order is None
    later: list[str] = []
    again = list(exchanged_details(["A", "B"], _fetcher(later), DetailExchange(tmp_path, state, "42", warehouse="w")))
    assert later == []
    assert [(d.order_id, d.fetched, d.order is None) for d in again] == [("A", False, False), ("B", False, True)]


def test_another_warehouse_does_not_share_and_files_are_owner_only(tmp_path: Path) -> None:
    state = MemorySharedState()
    list(exchanged_details(["A"], _fetcher([]), DetailExchange(tmp_path, state, "42", warehouse="one")))
    calls: list[str] = []
    list(exchanged_details(["A"], _fetcher(calls), DetailExchange(tmp_path, state, "42", warehouse="two")))
    assert calls == ["A"]
    files = [p for p in tmp_path.rglob("*.json")]
    assert len(files) == 2
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in files)


def test_without_an_exchange_every_order_is_fetched(tmp_path: Path) -> None:
    calls: list[str] = []
    assert [d.fetched for d in exchanged_details(["A", "B"], _fetcher(calls), None)] == [True, True]
    assert calls == ["A", "B"]


def test_a_detail_of_another_order_is_never_published(tmp_path: Path) -> None:
    state = MemorySharedState()
    exchange = DetailExchange(tmp_path, state, "42", warehouse="w")

    def wrong(order_id: str) -> dict[str, Any]:
        return {"orderId": "OTHER", "orderItems": []}

    with pytest.raises(BolInconsistentResponse, match="order A answered the detail of order 'OTHER'"):
        list(exchanged_details(["A"], wrong, exchange))
    assert list(tmp_path.rglob("*.json")) == []
    assert exchange.claim("A")  # the claim was released: another run may fetch it at once


def test_a_published_file_of_another_order_is_not_used(tmp_path: Path) -> None:
    state = MemorySharedState()
    exchange = DetailExchange(tmp_path, state, "42", warehouse="w")
    exchange.publish("A", {"orderId": "A", "orderItems": []})
    (published,) = tmp_path.rglob("*.json")
    published.write_text('{"orderId": "B", "orderItems": []}')  # e.g. written by a faulty or older version
    assert exchange.published("A") is None
    calls: list[str] = []
    (detail,) = exchanged_details(["A"], _fetcher(calls), exchange)
    assert (calls, detail.fetched, detail.order) == (["A"], True, {"orderId": "A", "orderItems": []})


def test_a_withdrawn_detail_is_asked_of_bol_again(tmp_path: Path) -> None:
    exchange = DetailExchange(tmp_path, MemorySharedState(), "42", warehouse="w")
    exchange.publish("O1", {"orderId": "O1", "orderItems": [{"quantity": 3_000_000_000}]})
    exchange.publish("O2", {"orderId": "O2", "orderItems": []})
    assert withdraw(tmp_path, "w", "42", ["O1", "O9"]) == 1  # the load held O1; O9 was never published
    assert withdraw(tmp_path, "other warehouse", "42", ["O2"]) == 0
    calls: list[str] = []
    details = list(exchanged_details(["O1", "O2"], _fetcher(calls), exchange))
    assert calls == ["O1"]
    assert [(d.order_id, d.fetched) for d in details] == [("O1", True), ("O2", False)]
