"""What every shared-state backend offers: slot reservations, pauses, leases and one-time claims."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from bolsync_provider.budget.shared_state.planning import Reservation, WindowLimit
from bolsync_provider.errors import BolLeaseLost, BolLeaseUnavailable

log = logging.getLogger(__name__)

#: A waiter asks for a held lease again after this long at first, then less often, up to the maximum.
LEASE_POLL_SECONDS = 0.05
LEASE_POLL_MAX_SECONDS = 0.5
#: A held lease is renewed this many times per TTL, so a late renewal or two still keeps it.
RENEWALS_PER_TTL = 4


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

    def renew_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Extend the lease to ``ttl`` seconds from now if ``holder`` still has it (unexpired); else False."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` still has it."""
        ...

    def claim_once(self, key: str, ttl: float) -> bool:
        """True for the first caller of ``key`` within ``ttl`` seconds, False for everyone after."""
        ...

    def release_claim(self, key: str) -> None:
        """Drop the claim on ``key`` (if any): the next :meth:`claim_once` of it succeeds again."""
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


class HeldLease:
    """A lease this process holds: a daemon thread renews it every ``ttl / RENEWALS_PER_TTL`` seconds until
    :meth:`release` (so do :meth:`confirm` and :meth:`sleep`), so it lasts as long as the work under it,
    however long that is, while a holder that crashes (its thread dies with it) blocks the others for at
    most ``ttl``."""

    def __init__(self, state: SharedState, name: str, holder: str, ttl: float) -> None:
        self.state = state
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._lost = False
        self._released = threading.Event()
        self._renewer = threading.Thread(target=self._renew_until_released, name=f"lease {name}", daemon=True)
        self._renewer.start()

    @property
    def lost(self) -> bool:
        """True once a renewal found the lease expired or taken by another holder."""
        return self._lost

    def confirm(self) -> None:
        """Renew the lease now; :class:`BolLeaseLost` if it is no longer this holder's.

        Call it right before an action that must never run twice at once: the lease then covers the next
        ``ttl`` seconds for certain, and the renewing thread the time after.
        """
        if not self._lost and not self.state.renew_lease(self.name, self.holder, self.ttl):
            self._lost = True
        if self._lost:
            raise BolLeaseLost(
                f"The lease {self.name} ran out before its work was done (this process stalled for longer than "
                f"its {self.ttl:g} s TTL, or the shared state lost it) and may be another process's now; nothing "
                "was sent without it."
            )

    def sleep(self, seconds: float) -> None:
        """Sleep under the lease, renewing it on the way (it never depends on the renewing thread alone)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, self.ttl / RENEWALS_PER_TTL))
            self.confirm()

    def _renew_until_released(self) -> None:
        while not self._released.wait(self.ttl / RENEWALS_PER_TTL):
            try:
                if not self.state.renew_lease(self.name, self.holder, self.ttl):
                    self._lost = True
                    log.warning("The lease %s ran out before it could be renewed.", self.name)
                    return
            except Exception as error:  # the lease still runs its TTL; the next renewal or confirm() tries again
                log.warning("Could not renew the lease %s (%s); trying again.", self.name, type(error).__name__)

    def release(self) -> None:
        """Stop renewing and give the lease up (never raises: an unreleased lease expires after its TTL)."""
        self._released.set()
        self._renewer.join()
        try:
            self.state.release(self.name, self.holder)
        except Exception as error:
            why = type(error).__name__
            log.warning("Could not release the lease %s (%s); it expires within %g s.", self.name, why, self.ttl)


def acquire_lease(
    state: SharedState, name: str, ttl: float, wait: float, extend: Callable[[], float] | None = None
) -> HeldLease:
    """Take the lease ``name``, waiting up to ``wait`` seconds while another holder has it.

    When the wait is over, ``extend`` (if given) may grant more: the seconds it returns (0: none).
    Raises :class:`BolLeaseUnavailable` rather than ever going on without the lease.
    """
    holder = uuid.uuid4().hex
    started = time.monotonic()
    deadline = started + wait
    poll = LEASE_POLL_SECONDS
    while not state.try_lease(name, holder, ttl):
        if time.monotonic() >= deadline:
            more = extend() if extend is not None else 0.0
            if more <= 0:
                raise BolLeaseUnavailable(
                    f"Could not take the lease {name} within {time.monotonic() - started:.0f} s: another process "
                    "holds it and is still at work (or stalled). Nothing was done without it; the task is retried "
                    "later."
                )
            deadline = time.monotonic() + more
        time.sleep(poll)
        poll = min(LEASE_POLL_MAX_SECONDS, poll * 1.5)
    return HeldLease(state, name, holder, ttl)


@contextmanager
def leased(
    state: SharedState, name: str, ttl: float, wait: float, extend: Callable[[], float] | None = None
) -> Iterator[HeldLease]:
    """Hold the lease ``name`` for the block, renewed while held (see :func:`acquire_lease`, :class:`HeldLease`)."""
    lease = acquire_lease(state, name, ttl, wait, extend)
    try:
        yield lease
    finally:
        lease.release()
