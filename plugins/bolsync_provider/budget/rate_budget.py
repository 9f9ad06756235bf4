"""The request budget of one credential, shared by every task, process and worker that uses it.

A credential-wide rate (5/s and 18,000/h by default) plus bol's per-endpoint limits, kept in the
configured shared state (see :mod:`bolsync_provider.budget.shared_state`). Slots are handed out first come,
first served, so no process starves. The per-second rate is spread evenly (one slot every 1/rate s)
rather than spent in bursts: a burst arrives at bol spread by network jitter and can then overlap the
next second's burst in bol's sliding window, which is exactly the 429 we must never cause.
A 429 pauses every user of the credential for ``Retry-After``, and
``X-RateLimit-Remaining: 0`` pauses that endpoint until its reset. Waits longer than a second are logged
with what they wait for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Protocol

from bolsync_provider.budget.shared_state import SharedState, WindowLimit, shared_state
from bolsync_provider.settings import BolConnectionSettings

log = logging.getLogger(__name__)

#: Every window is stretched by this fraction so jitter between us and bol cannot tip a window over.
WINDOW_SAFETY_FRACTION = 0.03
#: A process that wakes up this late for its slot (a CPU stall) gives the slot up and reserves a new one:
#: sent late, the request would crowd the next slots into bol's window.
LATE_SLOT_SECONDS = 0.01
MAX_LATE_RESERVATIONS = 3
#: Waits longer than this are logged, so a slow task says what it is waiting for.
LOG_WAIT_ABOVE_SECONDS = 1.0
#: After a wait this long, check whether a 429 paused the credential meanwhile (shorter waits skip the
#: extra round trip: it would delay the send unevenly, and a 429 met then is retried anyway).
RECHECK_PAUSE_AFTER_SECONDS = 0.5


class RateBudget(Protocol):
    """Blocks until a request to ``endpoint`` fits the budget; learns pauses from the server."""

    def acquire(self, endpoint: str) -> float:
        """Wait for a permit; return the seconds waited."""
        ...

    def pause(self, seconds: float, reason: str, endpoint: str | None = None) -> None:
        """Hold requests for ``seconds``: every request of the credential, or one endpoint's."""
        ...


def window_limits(
    credential: str, per_second: float, per_hour: int, endpoint_limits: Mapping[str, tuple[int, float]], endpoint: str
) -> list[WindowLimit]:
    """The windows one request to ``endpoint`` counts against; longer windows that cannot bind are dropped."""
    queued = [
        _limit(credential, per_second, 1.0, True, f"the credential's {per_second:g}/s", smooth=True),
        _limit(f"{credential}|hour", per_hour, 3600.0, True, f"the credential's {per_hour}/h"),
    ]
    if per_hour / 3600.0 >= per_second:
        queued = queued[:1]
    limits = list(queued)
    if endpoint in endpoint_limits:
        requests, seconds = endpoint_limits[endpoint]
        label = f"{endpoint} ({requests}/{seconds:g}s)"
        limits.append(_limit(f"{credential}|{endpoint}", requests, seconds, False, label))
    return limits


def _limit(key: str, requests: float, seconds: float, queued: bool, label: str, smooth: bool = False) -> WindowLimit:
    if requests < 1:
        requests, seconds = 1, seconds / requests
    return WindowLimit(key, int(requests), seconds * (1 + WINDOW_SAFETY_FRACTION), queued, label, smooth)


class SharedRateBudget:
    """:class:`RateBudget` over a :class:`SharedState`; thread- and process-safe."""

    def __init__(
        self,
        state: SharedState,
        credential: str,
        label: str,
        per_second: float,
        per_hour: int,
        endpoint_limits: Mapping[str, tuple[int, float]],
    ) -> None:
        self._state = state
        self._credential = credential
        self._label = label
        self._per_second = per_second
        self._per_hour = per_hour
        self._endpoint_limits = dict(endpoint_limits)

    def acquire(self, endpoint: str) -> float:
        started = time.monotonic()
        limits = window_limits(self._credential, self._per_second, self._per_hour, self._endpoint_limits, endpoint)
        pause_keys = [self._credential, f"{self._credential}|{endpoint}"]
        late = 0
        while True:
            reservation = self._state.reserve(limits, *pause_keys)
            if reservation.delay > LOG_WAIT_ABOVE_SECONDS:
                log.info(
                    "Rate budget of %s: waiting %.1fs before %s (bound by %s).",
                    self._label,
                    reservation.delay,
                    endpoint,
                    reservation.reason,
                )
            slot = self._state.local_time_of(reservation.slot)
            time.sleep(max(0.0, slot - time.time()))
            if not reservation.committed:
                continue
            if time.time() - slot > LATE_SLOT_SECONDS and late < MAX_LATE_RESERVATIONS:
                late += 1
                log.debug("Woke %.0f ms after the slot; reserving a new one.", (time.time() - slot) * 1000)
                continue
            if reservation.delay < RECHECK_PAUSE_AFTER_SECONDS:
                break
            paused = self._state.paused_for(pause_keys[:1])
            if paused <= 0:
                break
            log.info("Rate budget of %s: a 429 paused the credential; waiting %.1fs.", self._label, paused)
            time.sleep(paused)
        return time.monotonic() - started

    def pause(self, seconds: float, reason: str, endpoint: str | None = None) -> None:
        key = self._credential if endpoint is None else f"{self._credential}|{endpoint}"
        self._state.pause(key, seconds)
        scope = endpoint or "every request of the credential (all tasks)"
        log.info("Rate budget of %s: pausing %s for %.1fs (%s).", self._label, scope, seconds, reason)


def budget_for(settings: BolConnectionSettings, state: SharedState | None = None) -> SharedRateBudget:
    """The budget of a credential (keyed by client id) in the configured shared state."""
    return SharedRateBudget(
        state=state or shared_state(),
        credential=f"cred:{settings.credential_key}",
        label=f"connection '{settings.conn_id}'",
        per_second=settings.rate_limit_per_second,
        per_hour=settings.rate_limit_per_hour,
        endpoint_limits=settings.endpoint_limits,
    )
