"""A wall clock that steps (NTP, a VM resumed) never makes a request wait longer than the longest window
plus the longest 429 pause, on every backend: on a virtual clock, deterministic."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bolsync_provider.budget.rate_budget import SharedRateBudget, window_limits
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.budget.shared_state.planning import horizon
from bolsync_provider.budget.shared_state.redis_backend import RedisSharedState
from bolsync_provider.budget.shared_state.sql import SqliteSharedState
from bolsync_provider.errors import BolRetryLater
from bolsync_provider.transport.status import MAX_RETRY_AFTER_SECONDS
from tests.support.services import redis_url
from tests.support.virtual_time import VirtualClock

START = 1_800_000_000.0
ENDPOINT = "GET /retailer/orders"
DAY = 86_400.0


def _state(backend: str, clock: VirtualClock, folder: Path) -> Any:
    if backend == "memory":
        return MemorySharedState(clock=clock.time)
    if backend == "sqlite":
        return SqliteSharedState(folder / "state.sqlite", clock=clock.time)
    return RedisSharedState(redis_url(), clock=clock.time)


def _budget(state: Any, clock: VirtualClock, max_wait: float) -> SharedRateBudget:
    credential = f"cred:step-{uuid.uuid4().hex}"
    return SharedRateBudget(state, credential, "test", 2, 10**9, {}, clock=clock, max_wait=max_wait)


def _cap() -> float:
    return horizon(window_limits("cred:x", 2, 10**9, {}, ENDPOINT))


def test_the_cap_is_the_longest_window_plus_the_retry_after_cap() -> None:
    assert _cap() == pytest.approx(1.03 + MAX_RETRY_AFTER_SECONDS)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
@pytest.mark.parametrize("step", [-DAY, -1800.0, -5.0])
def test_a_backward_step_never_makes_one_sleep_longer_than_the_cap(backend: str, step: float, tmp_path: Path) -> None:
    clock = VirtualClock(START, itertools.repeat(0.0))
    budget = _budget(_state(backend, clock, tmp_path), clock, max_wait=DAY)

    def requests() -> None:
        for _ in range(4):
            budget.acquire(ENDPOINT)
        clock.step(step)
        for _ in range(4):
            budget.acquire(ENDPOINT)

    clock.run([requests])
    assert max(clock.sleeps) <= _cap()
    if -step > _cap():
        assert sum(clock.sleeps) < 5  # the entries from before the step are ignored: the usual spacing only
    else:
        assert sum(clock.sleeps) <= -step + 5  # the entries still count; the wait ends when they are past


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_a_backward_step_within_the_cap_frees_the_worker_until_the_entries_are_past(
    backend: str, tmp_path: Path
) -> None:
    clock = VirtualClock(START, itertools.repeat(0.0))
    budget = _budget(_state(backend, clock, tmp_path), clock, max_wait=180)
    caught: list[BolRetryLater] = []

    def requests() -> None:
        budget.acquire(ENDPOINT)
        clock.step(-1800)
        try:
            budget.acquire(ENDPOINT)
        except BolRetryLater as wait:
            caught.append(wait)

    clock.run([requests])
    [wait] = caught
    assert clock.sleeps == []
    stepped_now = datetime.fromtimestamp(START - 1800, UTC)
    assert 1800 <= (wait.resume_at - stepped_now).total_seconds() <= _cap()


class OffsetState(MemorySharedState):
    """A remote backend whose clock offset was measured before this host's clock stepped by ``step``."""

    def __init__(self, clock: VirtualClock, step: float) -> None:
        super().__init__(clock=clock.time)
        self.step = step

    def local_time_of(self, backend_time: float) -> float:
        return backend_time + self.step


@pytest.mark.parametrize("step", [-DAY, DAY])
def test_a_local_step_after_the_offset_was_measured_sleeps_the_backends_delay(step: float) -> None:
    clock = VirtualClock(START, itertools.repeat(0.0))
    budget = _budget(OffsetState(clock, -step), clock, max_wait=180)
    clock.run([lambda: [budget.acquire(ENDPOINT) for _ in range(5)]])
    assert len(clock.sleeps) == 4
    assert all(seconds == pytest.approx(1.03 / 2) for seconds in clock.sleeps)  # the spacing, not a day


def test_a_small_offset_error_never_makes_a_process_ask_again_and_again() -> None:
    """The mapped slot is 0.2 s early: the process still sleeps the backend's delay, then commits once."""
    clock = VirtualClock(START, itertools.repeat(0.0))
    state = OffsetState(clock, -0.2)
    calls: list[str] = []
    for name in ("reserve", "commit"):
        step = getattr(state, name)
        setattr(state, name, lambda *args, _step=step, _name=name: calls.append(_name) or _step(*args))
    budget = _budget(state, clock, max_wait=180)
    clock.run([lambda: [budget.acquire(ENDPOINT) for _ in range(5)]])
    assert calls == ["reserve"] + ["reserve", "commit"] * 4
