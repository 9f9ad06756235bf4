"""Leases on every backend: renewed while held, expiring after a crash, never skipped when busy."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from bolsync_provider.budget.shared_state import SharedState, base, leased, open_shared_state
from bolsync_provider.budget.shared_state.base import acquire_lease
from bolsync_provider.errors import BolLeaseLost, BolLeaseUnavailable
from tests.unit.provider.test_rate_budget import BACKENDS, backend_url


@pytest.fixture(params=BACKENDS)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> SharedState:
    return open_shared_state(backend_url(request.param, tmp_path))


def lease_name() -> str:
    return f"lease-{uuid.uuid4().hex}"


def test_renew_extends_only_the_holders_unexpired_lease(state: SharedState) -> None:
    name = lease_name()
    assert not state.renew_lease(name, "a", ttl=1)  # nobody holds it: renewing does not take it
    assert state.try_lease(name, "a", ttl=0.4)
    assert state.renew_lease(name, "a", ttl=0.4)
    assert not state.renew_lease(name, "b", ttl=0.4)
    time.sleep(0.6)
    assert not state.renew_lease(name, "a", ttl=5)  # expired: another may have had it meanwhile
    assert state.try_lease(name, "b", ttl=5)


def test_a_held_lease_outlives_its_ttl_and_a_crashed_holders_does_not(
    state: SharedState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "RENEWALS_PER_TTL", 10)  # late wake-ups on a loaded machine are no test of this
    name = lease_name()
    with leased(state, name, ttl=1.0, wait=0) as lease:
        for _ in range(6):  # 2.4 s: over two TTLs
            time.sleep(0.4)
            assert not state.try_lease(name, "other", ttl=5)
        lease.confirm()
    assert state.try_lease(name, "other", ttl=0.5)  # released at the end of the block
    time.sleep(0.6)

    crashed = acquire_lease(state, name, ttl=1.0, wait=1)
    crashed._released.set()  # the process died: no renewals, no release
    crashed._renewer.join()
    assert not state.try_lease(name, "other", ttl=5)
    time.sleep(1.2)
    assert state.try_lease(name, "other", ttl=5)
    with pytest.raises(BolLeaseLost, match="nothing was sent without it"):
        crashed.confirm()


def test_a_busy_lease_is_never_skipped_but_waited_for_then_refused(state: SharedState) -> None:
    name = lease_name()
    assert state.try_lease(name, "busy", ttl=30)
    started = time.monotonic()
    with (
        pytest.raises(BolLeaseUnavailable, match="Nothing was done without it"),
        leased(state, name, ttl=5, wait=0.3),
    ):
        pytest.fail("the block ran without the lease")
    assert time.monotonic() - started >= 0.3


def test_a_wait_is_extended_while_the_holder_is_known_to_be_at_work(state: SharedState) -> None:
    name = lease_name()
    assert state.try_lease(name, "busy", ttl=30)
    asked: list[float] = []

    def extend() -> float:
        asked.append(time.monotonic())
        if len(asked) == 2:
            state.release(name, "busy")  # the holder finishes during the extension
        return 0.3 if len(asked) <= 2 else 0.0

    with leased(state, name, ttl=5, wait=0.2, extend=extend) as lease:
        assert not lease.lost
    assert len(asked) == 2
