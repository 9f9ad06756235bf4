"""Sliding-window rate limits per client per endpoint, as bol publishes them."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``capacity`` requests per ``window`` seconds (before ``rate_scale``)."""

    capacity: int
    window: float


ENDPOINT_LIMITS: dict[str, Limit] = {
    "GET /retailer/orders": Limit(25, 60.0),
    "GET /retailer/orders/{order-id}": Limit(25, 1.0),
    "POST /token": Limit(20, 60.0),
}
DEFAULT_LIMIT = Limit(25, 1.0)


@dataclass(frozen=True)
class Decision:
    """Whether a request may pass, and the X-RateLimit-* values to report."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """A log of recent request times per (client, endpoint); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.windows: dict[tuple[str, str], deque[float]] = {}
        self.overrides: dict[str, int] = {}

    def capacity(self, endpoint: str, scale: float) -> int:
        """The scaled capacity of an endpoint (at least 1)."""
        base = self.overrides.get(endpoint, ENDPOINT_LIMITS.get(endpoint, DEFAULT_LIMIT).capacity)
        return max(1, round(base * scale))

    def check(self, client: str, endpoint: str, scale: float, consume: bool = True) -> Decision:
        """Record a request if the window has room (``consume``); otherwise only report."""
        window = ENDPOINT_LIMITS.get(endpoint, DEFAULT_LIMIT).window
        capacity = self.capacity(endpoint, scale)
        with self.lock:
            now = self.clock()
            log = self.windows.setdefault((client, endpoint), deque())
            while log and log[0] <= now - window:
                log.popleft()
            allowed = len(log) < capacity
            if allowed and consume:
                log.append(now)
            reset = max(1, math.ceil(log[0] + window - now)) if log else 0
            return Decision(allowed, capacity, max(0, capacity - len(log)), reset)

    def reset(self) -> None:
        """Forget all windows."""
        with self.lock:
            self.windows.clear()
