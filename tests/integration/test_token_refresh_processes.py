"""Several processes, one code-flow connection with rotating refresh tokens, bol's login service throttling:
one refresh reaches bol, nobody refreshes with a spent refresh token, nobody is told to re-authorize, and
every process ends with the same valid token. On every shared backend, over HTTP against the emulator.

The login service answers 429 (Retry-After 10 s) four times: the refresh takes over 40 s, longer than the
wait and the lease TTL that a fixed lease sized from the connection's timeouts would give (30 s + 6 x 0.5 s).
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync_provider.auth.authorize import exchange_code
from bolsync_provider.auth.cache import VariableRefreshTokenStore, variable_key
from bolsync_provider.config import set_variable
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.support.airflow_env import bol_connection
from tests.support.services import postgres_url, redis_url

ACCOUNT = AccountConfig("rot-client", "rot-secret", "4100001")
REDIRECT = "https://partner.example/callback"
PROCESSES = 4
RETRY_AFTER = 10
THROTTLED = 4


@pytest.fixture(scope="module")
def emulator(airflow_db) -> Iterator[str]:
    handle = start_emulator(
        EmulatorConfig(seed=4, accounts=[ACCOUNT], orders_per_day=10, history_days=2, rate_scale=50.0)
    )
    yield handle.base_url
    handle.stop()


def _use_the_token(conn_id: str, go: Any, results: multiprocessing.Queue) -> None:
    """One 'task process': get the connection's access token and use it for one API call."""
    import sys

    for folder in ("include", "plugins"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / folder))
    from bolsync_provider.auth.cache import refresh_variable_key
    from bolsync_provider.config import get_variable
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    hook = BolRetailerHook(conn_id)
    assert hook.settings.grant_type == "authorization_code"
    assert get_variable(refresh_variable_key(conn_id))  # the metadata DB and the shared state warmed up: all
    assert hook.shared_state.paused_for(["warm-up"]) == 0  # processes then ask for the token at the same time
    results.put("ready")
    go.wait(timeout=120)
    try:
        token = hook.tokens.get()
        orders = hook.get_orders_page(1)
    except Exception as error:
        results.put(("failed", type(error).__name__, str(error)))
        return
    digest = hashlib.sha256(token.value.encode()).hexdigest()
    results.put(("ok", digest, len(orders), hook.metrics.as_dict()["token_requests"]))


def _authorize(emulator: str, conn_id: str) -> str:
    """The seller authorizes the app; the code is exchanged and the refresh token stored (as in the README)."""
    code = requests.post(
        f"{emulator}/_emulator/authorization-codes",
        json={"client_id": ACCOUNT.client_id, "redirect_uri": REDIRECT, "rotation": "rotating"},
        timeout=10,
    ).json()["code"]
    store = VariableRefreshTokenStore()
    exchange_code(BolRetailerHook(conn_id).settings, code, REDIRECT, store)
    set_variable(variable_key(conn_id), "", description="no access token cached yet")
    stored = store.load(conn_id)
    assert stored
    return stored


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"])
def test_processes_refresh_a_rotating_token_once_through_a_throttled_login_service(
    backend: str, emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'state.sqlite'}",
        "redis": redis_url,
        "postgres": postgres_url,
    }[backend]()
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", url)
    conn_id = f"bol_rotating_{backend}"
    extra = {"grant_type": "authorization_code", "timeout_seconds": 0.5}
    bol_connection(conn_id, emulator, ACCOUNT.client_id, ACCOUNT.client_secret, **extra)
    first_refresh_token = _authorize(emulator, conn_id)
    requests.post(f"{emulator}/_emulator/stats/reset", timeout=10).raise_for_status()
    requests.post(
        f"{emulator}/_emulator/faults",
        json={
            "kind": "burst_429",
            "count": THROTTLED,
            "seconds": RETRY_AFTER,
            "client_id": ACCOUNT.client_id,
            "path_prefix": "/token",
        },
        timeout=10,
    ).raise_for_status()

    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    go = context.Event()
    workers = [context.Process(target=_use_the_token, args=(conn_id, go, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    assert [results.get(timeout=120) for _ in workers] == ["ready"] * PROCESSES
    go.set()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    failures = [outcome for outcome in outcomes if outcome[0] != "ok"]
    assert failures == []  # in particular no BolLoginError "have the seller authorize again"
    assert len({digest for _, digest, _, _ in outcomes}) == 1  # one token, shared through the cache
    assert all(orders > 0 for _, _, orders, _ in outcomes)  # and it works on the API
    assert sum(sent for _, _, _, sent in outcomes) == THROTTLED + 1

    stats = requests.get(f"{emulator}/_emulator/stats", timeout=10).json()
    assert stats["requests"]["POST /token"] == {"429": THROTTLED, "200": 1}  # no 400: no spent token sent
    timeline = requests.get(
        f"{emulator}/_emulator/stats/timeline", params={"client_id": ACCOUNT.client_id}, timeout=10
    ).json()
    arrivals = [entry["t"] for entry in timeline["token"]]
    assert all(later - earlier >= RETRY_AFTER - 0.05 for earlier, later in itertools.pairwise(arrivals))

    stored = VariableRefreshTokenStore().load(conn_id)
    assert stored
    assert stored != first_refresh_token  # rotated once and kept
    again = requests.post(
        f"{emulator}/token",
        data={"grant_type": "refresh_token", "refresh_token": stored},
        auth=(ACCOUNT.client_id, ACCOUNT.client_secret),
        timeout=10,
    )
    assert again.status_code == 200  # the stored one is the newest, valid one
