from __future__ import annotations

import threading
import time

from bolsync_provider.rate_budget import InProcessRateBudget, budget_for
from bolsync_provider.settings import BolConnectionSettings


def _max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, left = 0, 0
    for right, stamp in enumerate(stamps):
        while stamp - stamps[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best


def test_credential_rate_holds_across_threads() -> None:
    budget = InProcessRateBudget("t", 5, 18_000, {})
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            budget.acquire("GET /retailer/orders/{id}")
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 12
    assert _max_in_window(stamps) <= 5
    assert max(stamps) - min(stamps) >= 2.0  # 12 requests at 5/s need more than two seconds


def test_endpoint_limit_applies_on_top() -> None:
    budget = InProcessRateBudget("t", 100, 18_000, {"GET /retailer/orders": (2, 1.0)})
    started = time.monotonic()
    for _ in range(3):
        budget.acquire("GET /retailer/orders")
    assert time.monotonic() - started >= 1.0
    fast = time.monotonic()
    for _ in range(3):
        budget.acquire("GET /other")
    assert time.monotonic() - fast < 0.5


def test_pause_holds_every_request_of_the_credential() -> None:
    budget = InProcessRateBudget("t", 100, 18_000, {})
    budget.pause(0.6, "429")
    started = time.monotonic()
    budget.acquire("GET /x")
    assert time.monotonic() - started >= 0.55


def test_endpoint_pause_leaves_other_endpoints_alone() -> None:
    budget = InProcessRateBudget("t", 100, 18_000, {})
    budget.pause(5, "remaining 0", endpoint="GET /a")
    started = time.monotonic()
    budget.acquire("GET /b")
    assert time.monotonic() - started < 0.5


def test_one_budget_per_credential_in_a_process() -> None:
    one = BolConnectionSettings.from_connection("a", "same-client", "s", {})
    two = BolConnectionSettings.from_connection("b", "same-client", "s", {})
    other = BolConnectionSettings.from_connection("c", "other-client", "s", {})
    assert budget_for(one) is budget_for(two)
    assert budget_for(one) is not budget_for(other)
