"""Request counters for the demo, the tests and the benchmarks; thread-safe."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from bol_emulator.timeline import Timeline


class Stats:
    """Counts token requests, API requests per endpoint/status and client, throttling and faults."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.timeline = Timeline()
        self.reset()

    def reset(self) -> None:
        """Zero all counters and empty the timeline."""
        self.timeline.reset()
        with self.lock:
            self.token_requests: Counter[str] = Counter()
            self.token_grants: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self.requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self.throttled: Counter[str] = Counter()
            self.by_client: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.max_in_1s: dict[str, int] = {}
            self.recent: dict[str, deque[float]] = {}

    def record_request(self, endpoint: str, status: str) -> None:
        """One response (or dropped connection) for ``endpoint`` = "METHOD /path-template"."""
        with self.lock:
            self.requests[endpoint][status] += 1

    def record_token(self, client: str, grant: str = "client_credentials") -> None:
        """One request to the token endpoint, with its grant type (``-`` missing, ``other`` unknown)."""
        with self.lock:
            self.token_requests[client] += 1
            self.token_grants[client][grant] += 1

    def record_api(self, client: str) -> None:
        """One API request by ``client``; updates its busiest sliding second."""
        with self.lock:
            now = self.clock()
            self.by_client[client] += 1
            window = self.recent.setdefault(client, deque())
            window.append(now)
            while window[0] <= now - 1.0:
                window.popleft()
            self.max_in_1s[client] = max(self.max_in_1s.get(client, 0), len(window))

    def record_throttled(self, client: str) -> None:
        """One 429 caused by a rate limit (not by an injected burst_429 fault)."""
        with self.lock:
            self.throttled[client] += 1

    def record_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """The JSON of ``GET /_emulator/stats``."""
        with self.lock:
            return {
                "token_requests": dict(self.token_requests),
                "token_requests_by_grant": {client: dict(grants) for client, grants in self.token_grants.items()},
                "requests": {endpoint: dict(codes) for endpoint, codes in self.requests.items()},
                "throttled": dict(self.throttled),
                "max_requests_in_1s": dict(self.max_in_1s),
                "requests_by_client": dict(self.by_client),
                "faults": dict(self.faults),
            }
