"""Simulated processes on one virtual clock, with injected late wake-ups: deterministic timing tests.

Each simulated process is a thread, but exactly one runs at a time and the clock only moves while every
process sleeps: :meth:`VirtualClock.sleep` parks the caller until the clock reaches the wake-up time plus
the lateness the test injects (a CPU stall, a loaded host), then lets it continue. The run order depends
only on the wake-up times (ties in order of parking), never on the host's speed or load.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence


class VirtualClock:
    """Wall time, monotonic time and sleeping for simulated processes (the rate budget's ``Clock``)."""

    def __init__(self, start: float, lateness: Iterator[float]) -> None:
        self.now = start
        self._lateness = lateness
        self._wakeups: list[tuple[float, int, threading.Event]] = []
        self._order = itertools.count()
        self._parked = threading.Semaphore(0)
        self.errors: list[BaseException] = []
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Park until ``seconds`` (plus an injected late wake-up) have passed on this clock."""
        self.sleeps.append(seconds)
        self._park(self.now + max(0.0, seconds) + next(self._lateness))

    def step(self, seconds: float) -> None:
        """The wall clock jumps by ``seconds`` (negative: back), as an NTP step would."""
        self.now += seconds

    def _park(self, wake_at: float) -> None:
        woken = threading.Event()
        heapq.heappush(self._wakeups, (wake_at, next(self._order), woken))
        self._parked.release()
        woken.wait()

    def run(self, processes: Sequence[Callable[[], None]], timeout: float = 300.0) -> None:
        """Run ``processes`` to the end, interleaved on this clock; re-raise the first error of one."""
        threads = []
        for process in processes:
            woken = threading.Event()
            heapq.heappush(self._wakeups, (self.now, next(self._order), woken))
            thread = threading.Thread(target=self._body, args=(process, woken), daemon=True)
            thread.start()
            threads.append(thread)
        while self._wakeups:
            wake_at, _, woken = heapq.heappop(self._wakeups)
            self.now = max(self.now, wake_at)
            woken.set()
            if not self._parked.acquire(timeout=timeout):
                raise TimeoutError("a simulated process neither parked nor ended")
        for thread in threads:
            thread.join(timeout)
        if self.errors:
            raise self.errors[0]

    def _body(self, process: Callable[[], None], woken: threading.Event) -> None:
        woken.wait()
        try:
            process()
        except BaseException as error:  # handed to run(), which re-raises it in the test
            self.errors.append(error)
        finally:
            self._parked.release()
