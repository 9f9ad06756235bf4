"""Shared state kept in this process only: unit tests, scripts, and the benchmarks' naive baseline."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence

from bolsync_provider.budget.shared_state.planning import (
    KeyState,
    Reservation,
    WindowLimit,
    horizon,
    plan_commit,
    plan_reservation,
)


class _Entries:
    """One key's bookings and sends: sorted times of both, sorted times of the sends, open bookings."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.sent: list[float] = []
        self.booked: dict[str, float] = {}

    def trim(self, oldest: float, newest: float) -> None:
        for times in (self.times, self.sent):
            del times[bisect.bisect_right(times, newest) :]
            del times[: bisect.bisect_left(times, oldest)]
        self.booked = {ticket: at for ticket, at in self.booked.items() if oldest <= at <= newest}

    @staticmethod
    def state(times: list[float], limit: int) -> KeyState:
        return KeyState(times[-1] if times else None, times[-limit] if len(times) >= limit else None)

    def drop(self, ticket: str) -> None:
        at = self.booked.pop(ticket, None)
        if at is not None:
            index = bisect.bisect_left(self.times, at)
            if index < len(self.times) and self.times[index] == at:
                del self.times[index]

    def record(self, ticket: str, at: float, sent: bool) -> None:
        self.drop(ticket)
        bisect.insort(self.times, at)
        if sent:
            bisect.insort(self.sent, at)
        else:
            self.booked[ticket] = at


class MemorySharedState:
    """Thread-safe, per-process implementation of :class:`SharedState`; ``clock`` is its time (epoch s; by
    default ``time.time``, looked up at each call)."""

    description = "this process only (memory)"

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or _wall_clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entries] = {}
        self._pauses: dict[str, float] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._claims: dict[str, float] = {}

    def _trimmed(self, limits: Sequence[WindowLimit], now: float) -> list[_Entries]:
        newest = now + horizon(limits)
        entries = []
        for limit in limits:
            key = self._entries.setdefault(limit.key, _Entries())
            key.trim(now - limit.period, newest)
            entries.append(key)
        return entries

    def _apply(self, limits: Sequence[WindowLimit], ticket: str, reservation: Reservation) -> Reservation:
        for limit in limits:
            if reservation.sent or reservation.booked:
                self._entries[limit.key].record(ticket, reservation.slot, reservation.sent)
            else:
                self._entries[limit.key].drop(ticket)
        return reservation

    def reserve(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        with self._lock:
            now = self._clock()
            entries = self._trimmed(limits, now)
            states = {limit.key: _Entries.state(key.times, limit.limit) for limit, key in _pairs(limits, entries)}
            pauses = self._pauses.get(queued_pause, 0.0), self._pauses.get(probed_pause, 0.0)
            return self._apply(limits, ticket, plan_reservation(now, limits, states, *pauses, max_delay))

    def commit(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        with self._lock:
            now = self._clock()
            entries = self._trimmed(limits, now)
            states = {limit.key: _Entries.state(key.sent, limit.limit) for limit, key in _pairs(limits, entries)}
            booked_at = entries[0].booked.get(ticket) if entries else None
            pauses = self._pauses.get(queued_pause, 0.0), self._pauses.get(probed_pause, 0.0)
            return self._apply(limits, ticket, plan_commit(now, limits, states, *pauses, booked_at, max_delay))

    def local_time_of(self, backend_time: float) -> float:
        return backend_time

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            self._pauses[key] = max(self._pauses.get(key, 0.0), self._clock() + seconds)

    def paused_for(self, keys: Sequence[str]) -> float:
        with self._lock:
            return max([0.0, *(self._pauses.get(key, 0.0) - self._clock() for key in keys)])

    def try_lease(self, name: str, holder: str, ttl: float) -> bool:
        with self._lock:
            now = time.time()
            current = self._leases.get(name)
            if current is not None and current[0] != holder and current[1] > now:
                return False
            self._leases[name] = (holder, now + ttl)
            return True

    def renew_lease(self, name: str, holder: str, ttl: float) -> bool:
        with self._lock:
            now = time.time()
            current = self._leases.get(name)
            if current is None or current[0] != holder or current[1] <= now:
                return False
            self._leases[name] = (holder, now + ttl)
            return True

    def release(self, name: str, holder: str) -> None:
        with self._lock:
            if self._leases.get(name, ("", 0.0))[0] == holder:
                del self._leases[name]

    def claim_once(self, key: str, ttl: float) -> bool:
        with self._lock:
            now = time.time()
            if self._claims.get(key, 0.0) > now:
                return False
            self._claims[key] = now + ttl
            return True

    def release_claim(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)


def _pairs(limits: Sequence[WindowLimit], entries: list[_Entries]) -> zip[tuple[WindowLimit, _Entries]]:
    return zip(limits, entries, strict=True)


def _wall_clock() -> float:
    return time.time()
