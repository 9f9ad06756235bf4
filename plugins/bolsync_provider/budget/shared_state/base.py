"""What every shared-state backend offers: slot reservations, pauses, leases and one-time claims."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from bolsync_provider.budget.shared_state.planning import Reservation, WindowLimit

log = logging.getLogger(__name__)

LEASE_POLL_SECONDS = 0.05


class SharedState(Protocol):
    """State shared by every process (and, for Redis/PostgreSQL, every host) using a credential."""

    description: str

    def reserve(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        """Atomically book the next slot under ``limits`` for ``ticket``, or record it sent when that slot is
        now (planning.plan_reservation); nothing is booked more than ``max_delay`` seconds ahead."""
        ...

    def commit(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        """At the booked slot: atomically record ``ticket`` sent now if the windows, counted over the
        recorded sends, allow it; else move its booking (or drop it) and say how long to wait
        (planning.plan_commit)."""
        ...

    def local_time_of(self, backend_time: float) -> float:
        """``backend_time`` (a slot) on this host's ``time.time()`` clock.

        Callers sleep until the slot itself rather than for ``delay`` after the answer arrives, so the
        time a reservation takes (lock waits, network) does not make every send late (and, through its
        recorded send, the ones after it).
        """
        ...

    def pause(self, key: str, seconds: float) -> None:
        """No slot of ``key``'s users before ``seconds`` from now (keeps the longer of two pauses)."""
        ...

    def paused_for(self, keys: Sequence[str]) -> float:
        """Seconds until every pause among ``keys`` has ended (0 when none is active)."""
        ...

    def try_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take (or extend) the lease ``name`` for ``ttl`` seconds unless another holder has it."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` still has it."""
        ...

    def claim_once(self, key: str, ttl: float) -> bool:
        """True for the first caller of ``key`` within ``ttl`` seconds, False for everyone after."""
        ...


class ClockOffset:
    """The offset of a remote clock, estimated from the round trip with the smallest latency."""

    REFRESH_SECONDS = 60.0

    def __init__(self, read_remote: Callable[[], float]) -> None:
        self._read_remote = read_remote
        self._offset = 0.0
        self._measured_at = -self.REFRESH_SECONDS

    def local_time_of(self, backend_time: float) -> float:
        if time.monotonic() - self._measured_at >= self.REFRESH_SECONDS:
            self._measure()
        return backend_time - self._offset

    def _measure(self) -> None:
        best: tuple[float, float] | None = None
        for _ in range(3):
            before = time.time()
            remote = self._read_remote()
            after = time.time()
            if best is None or after - before < best[0]:
                best = (after - before, remote - (before + after) / 2)
        assert best is not None
        self._offset = best[1]
        self._measured_at = time.monotonic()


@contextmanager
def leased(state: SharedState, name: str, ttl: float, wait: float) -> Iterator[bool]:
    """Hold the lease ``name`` for the block; yields False if it could not be had within ``wait`` s.

    The lease expires after ``ttl`` seconds, so a holder that crashes never blocks the others for long.
    """
    holder = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    acquired = state.try_lease(name, holder, ttl)
    while not acquired and time.monotonic() < deadline:
        time.sleep(LEASE_POLL_SECONDS)
        acquired = state.try_lease(name, holder, ttl)
    if not acquired:
        log.warning("Could not take the lease %s within %.0fs; going on without it.", name, wait)
    try:
        yield acquired
    finally:
        if acquired:
            state.release(name, holder)
