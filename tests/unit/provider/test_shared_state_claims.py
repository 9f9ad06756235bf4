"""One-time claims on every shared-state backend: a released claim can be taken again, by anyone."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bolsync_provider.budget.shared_state import SharedState, open_shared_state
from tests.support.services import postgres_url, redis_url

BACKENDS = ["memory", "sqlite", "postgres", "redis"]


@pytest.fixture(params=BACKENDS)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> SharedState:
    url = {
        "memory": lambda: "memory://",
        "sqlite": lambda: f"sqlite:///{tmp_path / 'state.sqlite'}",
        "postgres": postgres_url,
        "redis": redis_url,
    }[request.param]()
    return open_shared_state(url)


def test_a_released_claim_can_be_claimed_again(state: SharedState) -> None:
    key = f"alert-{uuid.uuid4().hex}"
    assert state.claim_once(key, ttl=600)
    assert not state.claim_once(key, ttl=600)
    state.release_claim(key)
    assert state.claim_once(key, ttl=600)
    assert not state.claim_once(key, ttl=600)


def test_releasing_touches_only_its_own_key_and_an_unclaimed_key_is_no_error(state: SharedState) -> None:
    key = f"alert-{uuid.uuid4().hex}"
    assert state.claim_once(key, ttl=600)
    state.release_claim(key + "-other")
    assert not state.claim_once(key, ttl=600)
    state.release_claim(f"never-claimed-{uuid.uuid4().hex}")


def test_a_claim_released_in_one_process_is_free_in_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    first, second = open_shared_state(url), open_shared_state(url)
    key = f"alert-{uuid.uuid4().hex}"
    assert first.claim_once(key, ttl=600)
    assert not second.claim_once(key, ttl=600)
    first.release_claim(key)
    assert second.claim_once(key, ttl=600)
