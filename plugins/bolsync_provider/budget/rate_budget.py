"""The request budget of one credential, shared by every task, process and worker that uses it.

A credential-wide rate (5/s and 18,000/h by default) plus bol's per-endpoint limits, kept in the
configured shared state (see :mod:`bolsync_provider.budget.shared_state`). Slots are booked first come,
first served, so no process starves. The per-second rate is spread evenly (one slot every 1/rate s)
rather than spent in bursts: a burst arrives at bol spread by network jitter and can then overlap the
next second's burst in bol's sliding window, which is exactly the 429 we must never cause.

A request is recorded as sent when its process is awake to send it (``SharedState.commit``), not when
its slot was planned: a process that wakes up late sends late, and the requests after it keep their
windows counted from its real send (``planning``). A 429 pauses every user of the credential for
``Retry-After``, and ``X-RateLimit-Remaining: 0`` pauses that endpoint until its reset. A wait longer
than a task should hold its worker raises :class:`BolRetryLater`; no single sleep lasts longer than the
longest window plus the longest 429 pause, whatever the wall clock does. Waits longer than a second are
logged with what they wait for.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from bolsync_provider.budget.shared_state import Reservation, SharedState, WindowLimit, shared_state
from bolsync_provider.budget.shared_state.planning import horizon
from bolsync_provider.settings import BolConnectionSettings
from bolsync_provider.transport.retry import max_worker_wait_seconds, retry_later

log = logging.getLogger(__name__)

#: Every window is stretched by this fraction: what happens between a send's record and its arrival at bol
#: (building the request, the network, jitter on bol's side) may take up to this share of the window
#: without tipping it over (30 ms of a 1-second window).
WINDOW_SAFETY_FRACTION = 0.03
#: Waits longer than this are logged, so a slow task says what it is waiting for.
LOG_WAIT_ABOVE_SECONDS = 1.0
#: When the slot mapped to this host's clock and the backend's own delay disagree by more than this, this
#: host's wall clock stepped since the backend's offset was measured: the backend's delay is used.
CLOCK_DISAGREEMENT_SECONDS = 1.0


class Clock(Protocol):
    """Wall time, monotonic time and sleeping: the system's, or a test's."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class RateBudget(Protocol):
    """Blocks until a request to ``endpoint`` fits the budget; learns pauses from the server."""

    def acquire(self, endpoint: str) -> float:
        """Wait until ``endpoint`` may be called, record the send; the seconds waited (call it right before
        sending). Raises :class:`BolRetryLater` instead of a wait longer than a task holds its worker."""
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
    """:class:`RateBudget` over a :class:`SharedState`; thread- and process-safe.

    ``max_wait``: the longest wait slept through (default ``[bolsync] max_worker_wait_seconds``).
    """

    def __init__(
        self,
        state: SharedState,
        credential: str,
        label: str,
        per_second: float,
        per_hour: int,
        endpoint_limits: Mapping[str, tuple[int, float]],
        *,
        clock: Clock | None = None,
        max_wait: float | None = None,
    ) -> None:
        self._state = state
        self._credential = credential
        self._label = label
        self._per_second = per_second
        self._per_hour = per_hour
        self._endpoint_limits = dict(endpoint_limits)
        self._clock: Clock = clock or SystemClock()
        self._max_wait = max_wait

    def acquire(self, endpoint: str) -> float:
        """Wait until ``endpoint`` may be called and record the send; the seconds waited.

        Raises :class:`BolRetryLater` when the wait would be longer than ``max_wait``.
        """
        started = self._clock.monotonic()
        limits = window_limits(self._credential, self._per_second, self._per_hour, self._endpoint_limits, endpoint)
        pauses = (self._credential, f"{self._credential}|{endpoint}")
        max_wait = self._max_wait if self._max_wait is not None else max_worker_wait_seconds()
        ticket = uuid.uuid4().hex
        asked = self._clock.monotonic()
        reservation = self._state.reserve(limits, *pauses, ticket, max_wait)
        while not reservation.sent:
            if reservation.delay > max_wait:
                why = f"Rate budget of {self._label}: {endpoint} waits {reservation.delay:.0f} s ({reservation.reason})"
                raise retry_later(reservation.delay, why, max_wait, now=self._clock.time())
            if reservation.delay > LOG_WAIT_ABOVE_SECONDS:
                log.info(
                    "Rate budget of %s: waiting %.1fs before %s (bound by %s).",
                    self._label,
                    reservation.delay,
                    endpoint,
                    reservation.reason,
                )
            self._clock.sleep(self._sleep_seconds(reservation, self._clock.monotonic() - asked, limits))
            step = self._state.commit if reservation.booked else self._state.reserve
            asked = self._clock.monotonic()
            reservation = step(limits, *pauses, ticket, max_wait)
        return self._clock.monotonic() - started

    def _sleep_seconds(self, reservation: Reservation, since_asked: float, limits: Sequence[WindowLimit]) -> float:
        """Until the slot on this host's clock, but not less than the backend's delay minus the time since it
        was asked (an error in the clock offset never makes a process ask again and again), and never longer
        than a clock step can justify (planning.horizon)."""
        until_slot = self._state.local_time_of(reservation.slot) - self._clock.time()
        if abs(until_slot - reservation.delay) > CLOCK_DISAGREEMENT_SECONDS:
            until_slot = reservation.delay
        until_slot = max(until_slot, reservation.delay - since_asked)
        return min(max(0.0, until_slot), horizon(limits))

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
