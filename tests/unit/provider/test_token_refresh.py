"""Token refreshes across processes: one at a time under a lease that lasts the whole fetch, never without it,
a refused rotating refresh token re-read before it is declared dead, a 429 pausing token requests everywhere.

A scripted login service (tests.support.fake_login) decides each answer from what the other "processes"
(TokenProviders sharing a state, a cache and a refresh-token store) did meanwhile; a virtual clock stands in
for the minutes a throttled login service takes.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from bolsync_provider.auth import provider as provider_module
from bolsync_provider.auth.cache import MemoryRefreshTokenStore, MemoryTokenCache
from bolsync_provider.auth.provider import TokenProvider, refresh_wait_seconds
from bolsync_provider.auth.tokens import parse_token_response
from bolsync_provider.budget.rate_budget import budget_for
from bolsync_provider.budget.shared_state import SharedState, base, open_shared_state
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.errors import BolAuthError, BolLeaseUnavailable, BolLoginError, BolRateLimited
from bolsync_provider.settings import AUTHORIZATION_CODE, BolConnectionSettings
from bolsync_provider.transport import retry
from bolsync_provider.transport.metrics import ApiMetrics
from tests.support.fake_login import FakeLogin, VirtualClock
from tests.support.jwt_tokens import make_jwt, token_body
from tests.unit.provider.test_rate_budget import backend_url

REAL_SLEEP = time.sleep


def partner(conn_id: str = "shop", **overrides: object) -> BolConnectionSettings:
    """A code-flow connection (rotating refresh tokens) of partner client ``partner``."""
    return BolConnectionSettings(
        conn_id=conn_id,
        client_id="partner",
        client_secret="partner-secret",
        grant_type=AUTHORIZATION_CODE,
        **overrides,  # type: ignore[arg-type]
    )


def tokens(
    settings: BolConnectionSettings,
    login: FakeLogin,
    state: SharedState,
    cache: MemoryTokenCache | None = None,
    store: MemoryRefreshTokenStore | None = None,
) -> TokenProvider:
    """One process's token provider (each process has its own; cache, store and state are shared)."""
    return TokenProvider(settings, cache or MemoryTokenCache(), login, ApiMetrics(), state, store)


def test_a_process_that_cannot_take_the_lease_waits_then_fails_retriably_and_never_fetches_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = VirtualClock().install(monkeypatch)
    state = MemorySharedState()
    settings = partner()
    assert state.try_lease(f"token:{settings.credential_key}", "another-process", ttl=10**9)  # busy, alive
    login = FakeLogin("rt-1")
    started = clock.now
    with pytest.raises(BolLeaseUnavailable, match="Nothing was done without it") as raised:
        tokens(settings, login, state, store=MemoryRefreshTokenStore({"shop": "rt-1"})).get()
    assert login.requests == []  # no refresh with a refresh token another process may be rotating
    assert not isinstance(raised.value, BolAuthError)  # retriable: no "re-authorize" alert
    assert clock.now - started >= refresh_wait_seconds(settings)


def test_the_lease_holds_through_a_throttled_fetch_longer_than_any_fixed_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = VirtualClock().install(monkeypatch)
    state = MemorySharedState()
    settings = partner()
    lease = f"token:{settings.credential_key}"
    taken_by_another: list[float] = []

    def another_process_tries_the_lease() -> int:
        if state.try_lease(lease, "another-process", ttl=1):
            taken_by_another.append(clock.now)
            state.release(lease, "another-process")
        return 429

    login = FakeLogin("rt-1", retry_after="120", script=[another_process_tries_the_lease] * 5)
    store = MemoryRefreshTokenStore({"shop": "rt-1"})
    token = tokens(settings, login, state, store=store).get()
    assert login.statuses() == [429] * 5 + [200]
    assert login.requests[-1].at - login.requests[0].at >= 5 * 120  # ten minutes of Retry-After
    assert taken_by_another == []  # held all along
    assert token.is_fresh(clock.now)
    assert store.load("shop") == login.refresh_token


def test_a_token_429_pauses_token_requests_in_every_process_but_not_api_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    VirtualClock().install(monkeypatch)
    monkeypatch.setattr(retry, "MAX_WORKER_WAIT_SECONDS", 3600.0)  # the 300 s pause is waited out in the process
    state = MemorySharedState()
    login = FakeLogin(retry_after="300", script=[429])
    first = BolConnectionSettings(conn_id="shop_a", client_id="client", client_secret="s", max_attempts=1)
    second = BolConnectionSettings(conn_id="shop_b", client_id="client", client_secret="s")  # same client
    with pytest.raises(BolRateLimited):
        tokens(first, login, state).get()
    throttled_at = login.requests[0].at
    assert budget_for(second, state).acquire("GET /retailer/orders") < 1  # API calls hold valid tokens: no pause
    tokens(second, login, state).get()
    assert login.statuses() == [429, 200]
    assert login.requests[1].at >= throttled_at + 300


def test_a_refused_refresh_retries_with_the_newer_refresh_token_another_process_stored() -> None:
    store = MemoryRefreshTokenStore({"shop": "rt-1"})
    login = FakeLogin("rt-1")
    rotated: list[str] = []

    def another_process_refreshes_meanwhile() -> None:
        rotated.append(login.rotate_elsewhere())  # rt-1 is spent at bol ...
        store.store("shop", rotated[0])  # ... and the newer token stored, but no access token cached

    login.script = [another_process_refreshes_meanwhile]
    token = tokens(partner(), login, MemorySharedState(), store=store).get()
    assert login.statuses() == [400, 200]
    assert [seen.grant["refresh_token"] for seen in login.requests] == ["rt-1", rotated[0]]
    assert store.load("shop") == login.refresh_token != rotated[0]  # rotated once more, and kept
    assert token.client_id == "partner"


def test_a_refused_refresh_uses_the_token_the_other_process_cached_without_another_request() -> None:
    store = MemoryRefreshTokenStore({"shop": "rt-1"})
    cache = MemoryTokenCache()
    login = FakeLogin("rt-1")
    theirs = make_jwt(lifetime=600, client_id="partner")

    def another_process_refreshes_meanwhile() -> None:
        store.store("shop", login.rotate_elsewhere())
        body = token_body(theirs).decode()
        cache.store("shop", parse_token_response(body, requested_at=time.time(), client_id="partner", login_label="x"))

    login.script = [another_process_refreshes_meanwhile]
    assert tokens(partner(), login, MemorySharedState(), cache, store).get().value == theirs
    assert login.statuses() == [400]


def test_a_refused_refresh_token_with_nothing_newer_stored_is_dead_and_says_to_authorize_again() -> None:
    login = FakeLogin("rt-valid-elsewhere")
    with pytest.raises(BolLoginError, match="authorize again") as raised:
        tokens(partner(), login, MemorySharedState(), store=MemoryRefreshTokenStore({"shop": "rt-1"})).get()
    assert raised.value.status == 400
    assert login.statuses() == [400]
    assert "rt-1" not in str(raised.value)


def test_a_refresh_answer_lost_in_transit_is_named_when_the_token_is_then_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    VirtualClock().install(monkeypatch)
    store = MemoryRefreshTokenStore({"shop": "rt-1"})
    login = FakeLogin("rt-1")

    def bol_rotates_but_the_answer_is_lost() -> str:
        login.rotate_elsewhere()
        return "drop"

    login.script = [bol_rotates_but_the_answer_is_lost]
    with pytest.raises(BolLoginError, match="authorize again") as raised:
        tokens(partner(), login, MemorySharedState(), store=store).get()
    assert "got no answer" in str(raised.value)
    assert login.statuses() == [0, 400]


# Every backend's leases: test_leases.py; Redis and PostgreSQL in processes: test_token_refresh_processes.py.
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_processes_waiting_for_a_slow_refresh_get_its_token_and_bol_sees_one_refresh(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real time: the refresh takes 3.5 s, over twice the lease's TTL of 1.5 s; the renewals keep it."""
    monkeypatch.setattr(provider_module, "TOKEN_LEASE_TTL_SECONDS", 1.5)
    monkeypatch.setattr(base, "RENEWALS_PER_TTL", 10)  # late wake-ups on a loaded machine are no test of this
    state = open_shared_state(backend_url(backend, tmp_path))
    settings = partner(conn_id=f"slow-{uuid.uuid4().hex[:8]}")
    store = MemoryRefreshTokenStore({settings.conn_id: "rt-1"})
    cache = MemoryTokenCache()
    login = FakeLogin("rt-1", script=[lambda: REAL_SLEEP(3.5)])
    values: list[str] = []
    errors: list[BaseException] = []

    def process() -> None:
        try:
            values.append(tokens(settings, login, state, cache, store).get().value)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=process) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert login.statuses() == [200]
    assert len(values) == 4
    assert len(set(values)) == 1
    assert store.load(settings.conn_id) == login.refresh_token


def test_an_invalidated_token_stays_a_readable_cache_entry_of_its_retailer(caplog: pytest.LogCaptureFixture) -> None:
    """A token bol refused (e.g. after a restart) is cached as expired with its retailer: the next process
    reads it without a warning, finds it expired and fetches a new one."""
    settings = BolConnectionSettings(conn_id="shop", client_id="client-x", client_secret="s")
    cache = MemoryTokenCache()
    token = parse_token_response(
        token_body(make_jwt(retailer_id="7654321")).decode(), requested_at=time.time(), client_id="client-x",
        login_label="bol",
    )  # fmt: skip
    cache.store("shop", token)
    tokens(settings, FakeLogin(), MemorySharedState(), cache).invalidate(token)
    stored = cache.load("shop")
    assert stored is not None
    assert stored.expires_at == 0.0
    assert not stored.is_fresh(time.time())
    caplog.set_level("WARNING")
    again = type(token).from_json(stored.to_json())
    assert again is not None
    assert again.retailer_id == "7654321"
    assert "says retailer" not in caplog.text
