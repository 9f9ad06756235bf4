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
    "POST /retailer/offers/export": Limit(9, 3600.0),
    "GET /retailer/offers/export/{report-id}": Limit(9, 3600.0),
    "GET /retailer/offers": Limit(25, 1.0),
    "GET /retailer/offers/{offer-id}": Limit(25, 1.0),
    "GET /shared/process-status/{process-status-id}": Limit(25, 1.0),  # not published; bol's usual 25/s
    "GET /retailer/returns": Limit(20, 60.0),
    "GET /retailer/returns/{return-id}": Limit(20, 60.0),
    "GET /retailer/shipments": Limit(25, 60.0),
    "GET /retailer/shipments/{shipment-id}": Limit(50, 60.0),
    "GET /retailer/inventory": Limit(20, 60.0),
    "GET /retailer/invoices": Limit(24, 60.0),
    "GET /retailer/invoices/{invoice-id}": Limit(24, 60.0),
    "GET /retailer/invoices/{invoice-id}/specification": Limit(24, 60.0),
}
#: Endpoints that one published rule covers share its window: endpoint -> the window's key.
SHARED_WINDOWS: dict[str, str] = {
    "GET /retailer/invoices/{invoice-id}/specification": "GET /retailer/invoices/{invoice-id}",
    # bol's demo has one generic limit for all its calls.
    "GET /retailer-demo/orders": "demo",
    "GET /retailer-demo/orders/{order-id}": "demo",
    "GET /shared-demo/process-status/{process-status-id}": "demo",
}
DEFAULT_LIMIT = Limit(25, 1.0)
CREDENTIAL = "*"  # the key of the credential-wide window


def credential_limit(rate_per_second: float | None) -> Limit | None:
    """The credential-wide window for ``rate_per_second``: that many requests per second; a fractional rate r
    becomes ceil(r) requests per ceil(r)/r seconds (0.5 -> 1 per 2 s, 2.5 -> 3 per 1.2 s)."""
    if rate_per_second is None:
        return None
    capacity = math.ceil(rate_per_second)
    return Limit(capacity, capacity / rate_per_second)


def _reset(log: deque[float], window: float, now: float) -> int:
    """Seconds until the oldest request leaves the window (0 when it is empty)."""
    return max(1, math.ceil(log[0] + window - now)) if log else 0


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

    def check(
        self, client: str, endpoint: str, scale: float, consume: bool = True, credential: Limit | None = None
    ) -> Decision:
        """Record a request if every window has room (``consume``); otherwise only report. ``credential`` is an
        extra window shared by all endpoints of the client; when it blocks, the decision describes it."""
        window = ENDPOINT_LIMITS.get(endpoint, DEFAULT_LIMIT).window
        capacity = self.capacity(endpoint, scale)
        with self.lock:
            now = self.clock()
            decision, log = self._window((client, SHARED_WINDOWS.get(endpoint, endpoint)), capacity, window, now)
            if credential is not None:
                shared, shared_log = self._window((client, CREDENTIAL), credential.capacity, credential.window, now)
                if decision.allowed and not shared.allowed:
                    return shared
                if decision.allowed and consume:
                    shared_log.append(now)
            if decision.allowed and consume:
                log.append(now)
                decision = Decision(True, capacity, max(0, capacity - len(log)), _reset(log, window, now))
            return decision

    def _window(self, key: tuple[str, str], capacity: int, window: float, now: float) -> tuple[Decision, deque[float]]:
        log = self.windows.setdefault(key, deque())
        while log and log[0] <= now - window:
            log.popleft()
        decision = Decision(len(log) < capacity, capacity, max(0, capacity - len(log)), _reset(log, window, now))
        return decision, log

    def reset(self) -> None:
        """Forget all windows."""
        with self.lock:
            self.windows.clear()
