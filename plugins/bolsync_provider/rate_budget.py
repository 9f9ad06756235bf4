"""The request budget of one credential: a credential-wide rate plus bol's per-endpoint limits.

Enforced inside the process with pyrate-limiter (sliding windows). :func:`budget_for` is the seam
where a budget shared across processes and hosts plugs in later: callers only see :class:`RateBudget`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Protocol

from pyrate_limiter import Limiter, Rate

from bolsync_provider.settings import BolConnectionSettings

log = logging.getLogger(__name__)

#: Every window is stretched by this fraction so network jitter between us and bol cannot tip a burst over.
WINDOW_SAFETY_FRACTION = 0.02
#: Waits longer than this are logged, so a slow task says what it is waiting for.
LOG_WAIT_ABOVE_SECONDS = 1.0


class RateBudget(Protocol):
    """Blocks until a request to ``endpoint`` fits the budget; learns pauses from the server."""

    def acquire(self, endpoint: str) -> float:
        """Wait for a permit; return the seconds waited."""
        ...

    def pause(self, seconds: float, reason: str, endpoint: str | None = None) -> None:
        """Hold requests for ``seconds``: every request of the credential, or one endpoint's."""
        ...


def _rate(requests: float, period_seconds: float) -> Rate:
    if requests < 1:
        requests, period_seconds = 1, period_seconds / requests
    return Rate(int(requests), int(period_seconds * 1000 * (1 + WINDOW_SAFETY_FRACTION)))


def _rates(*rates: Rate) -> list[Rate]:
    """Shortest window first, dropping any longer window that could never bind (pyrate's rule)."""
    kept: list[Rate] = []
    for rate in sorted(rates, key=lambda r: r.interval):
        if not kept or (
            rate.limit > kept[-1].limit and rate.limit / rate.interval <= kept[-1].limit / kept[-1].interval
        ):
            kept.append(rate)
    return kept


class InProcessRateBudget:
    """A budget kept in this process; thread-safe."""

    def __init__(
        self,
        label: str,
        per_second: float,
        per_hour: int,
        endpoint_limits: Mapping[str, tuple[int, float]],
    ) -> None:
        self._label = label
        self._credential = Limiter(_rates(_rate(per_second, 1.0), _rate(per_hour, 3600.0)))
        self._endpoints = {name: Limiter([_rate(n, seconds)]) for name, (n, seconds) in endpoint_limits.items()}
        self._not_before: dict[str | None, float] = {}
        self._lock = threading.Lock()

    def acquire(self, endpoint: str) -> float:
        started = time.monotonic()
        self._wait_for_pause(endpoint)
        endpoint_limiter = self._endpoints.get(endpoint)
        if endpoint_limiter is not None:
            endpoint_limiter.try_acquire(endpoint, blocking=True)
        self._credential.try_acquire("credential", blocking=True)
        waited = time.monotonic() - started
        if waited > LOG_WAIT_ABOVE_SECONDS:
            log.info("Rate budget of %s: waited %.1fs before %s.", self._label, waited, endpoint)
        return waited

    def pause(self, seconds: float, reason: str, endpoint: str | None = None) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._not_before[endpoint] = max(self._not_before.get(endpoint, 0.0), until)
        scope = endpoint or "all requests"
        log.info("Rate budget of %s: pausing %s for %.1fs (%s).", self._label, scope, seconds, reason)

    def _wait_for_pause(self, endpoint: str) -> None:
        with self._lock:
            until = max(self._not_before.get(None, 0.0), self._not_before.get(endpoint, 0.0))
        remaining = until - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)


_budgets: dict[str, InProcessRateBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(settings: BolConnectionSettings) -> RateBudget:
    """The one budget of a credential (keyed by client id) in this process."""
    key = f"{settings.client_id}|{settings.rate_limit_per_second}|{settings.rate_limit_per_hour}"
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = InProcessRateBudget(
                label=f"connection '{settings.conn_id}'",
                per_second=settings.rate_limit_per_second,
                per_hour=settings.rate_limit_per_hour,
                endpoint_limits=settings.endpoint_limits,
            )
            _budgets[key] = budget
        return budget
