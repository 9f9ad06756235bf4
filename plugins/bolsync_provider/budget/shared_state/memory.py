"""Shared state kept in this process only: unit tests, scripts, and the benchmarks' naive baseline."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Sequence

from bolsync_provider.budget.shared_state.planning import KeyState, Reservation, WindowLimit, plan_reservation


class MemorySharedState:
    """Thread-safe, per-process implementation of :class:`SharedState`."""

    description = "this process only (memory)"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, list[float]] = {}
        self._pauses: dict[str, float] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._claims: dict[str, float] = {}

    def reserve(self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str) -> Reservation:
        with self._lock:
            now = time.time()
            states = {}
            for limit in limits:
                slots = self._slots.setdefault(limit.key, [])
                del slots[: bisect.bisect_left(slots, now - limit.period)]
                states[limit.key] = KeyState(
                    latest=slots[-1] if slots else None,
                    nth_latest=slots[-limit.limit] if len(slots) >= limit.limit else None,
                )
            plan = plan_reservation(
                now, limits, states, self._pauses.get(queued_pause, 0.0), self._pauses.get(probed_pause, 0.0)
            )
            if plan.reservation.committed:
                for limit in limits:
                    bisect.insort(self._slots[limit.key], plan.slot)
            return plan.reservation

    def local_time_of(self, backend_time: float) -> float:
        return backend_time

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            self._pauses[key] = max(self._pauses.get(key, 0.0), time.time() + seconds)

    def paused_for(self, keys: Sequence[str]) -> float:
        with self._lock:
            return max([0.0, *(self._pauses.get(key, 0.0) - time.time() for key in keys)])

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
