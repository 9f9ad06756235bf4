"""Several processes, one credential: one budget and one token across them, on every shared backend."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from tests.support.airflow_env import bol_connection
from tests.support.services import postgres_url, redis_url
from tests.support.windows import max_in_window

ACCOUNT = AccountConfig("mp-client", "mp-secret", "4000001")
PROCESSES = 4
BUDGET = 20  # requests per second, the emulator's credential limit and the connection's budget
REQUESTS_EACH = 40  # 160 requests at 20/s: about 8 s, two token lifetimes
TOKEN_LIFETIME = 4


@pytest.fixture(scope="module")
def emulator(airflow_db) -> Iterator[str]:
    handle = start_emulator(
        EmulatorConfig(
            seed=3,
            accounts=[ACCOUNT],
            orders_per_day=20,
            history_days=2,
            rate_scale=50.0,
            credential_rate_per_second=BUDGET,
            token_lifetime=TOKEN_LIFETIME,
        )
    )
    yield handle.base_url
    handle.stop()


def _sync_orders(conn_id: str, order_ids: list[str], go: Any, results: multiprocessing.Queue) -> None:
    """One 'task process': fetch REQUESTS_EACH order details through the product's hook."""
    import sys

    for folder in ("include", "plugins"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / folder))
    from airflow.models.variable import Variable  # the token cache's import, warmed up before the clock starts

    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    hook = BolRetailerHook(conn_id)
    assert hook.settings.rate_limit_per_second == BUDGET
    assert Variable is not None
    results.put("ready")
    go.wait(timeout=120)
    started = time.time()
    for done in range(REQUESTS_EACH):
        hook.get_order(order_ids[done % len(order_ids)])
    results.put((os.getpid(), time.time() - started, hook.metrics.as_dict()))


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"])
def test_processes_share_one_budget_and_one_token(
    backend: str, emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'state.sqlite'}",
        "redis": redis_url,
        "postgres": postgres_url,
    }[backend]()
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", url)
    conn_id = f"bol_mp_{backend}"
    bol_connection(
        conn_id,
        emulator,
        ACCOUNT.client_id,
        ACCOUNT.client_secret,
        rate_limit_per_second=BUDGET,
        endpoint_rate_limits={"GET /retailer/orders/{id}": [1000, 1]},
    )
    requests.post(f"{emulator}/_emulator/stats/reset", timeout=10).raise_for_status()
    requests.post(f"{emulator}/_emulator/ratelimits/reset", timeout=10).raise_for_status()
    truth = requests.get(f"{emulator}/_emulator/accounts/{ACCOUNT.client_id}/order-items", timeout=10).json()
    order_ids = sorted({row["order_id"] for row in truth})

    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    go = context.Event()
    workers = [context.Process(target=_sync_orders, args=(conn_id, order_ids, go, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    assert [results.get(timeout=120) for _ in workers] == ["ready"] * PROCESSES  # imports done
    go.set()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    stats = requests.get(f"{emulator}/_emulator/stats", timeout=10).json()
    timeline = requests.get(
        f"{emulator}/_emulator/stats/timeline", params={"client_id": ACCOUNT.client_id}, timeout=10
    ).json()
    api = [entry["t"] for entry in timeline["api"]]
    rejected = [e["t"] for e in timeline["api"] if e["answered_429"]]
    # Goal: no 429. On a 2-core machine a CPU stall can still hold one send past its slot (bol then counts
    # it in the next window); the budget must then pause everyone, so a second one must not follow.
    assert len(rejected) <= 1, rejected
    assert max_in_window(api) <= BUDGET + len(rejected), stats
    # How close to the budget the processes get together is measured by `make bench` (0.93-0.95 of it with
    # 8 processes), not asserted here: on a loaded 2-core machine it is a measure of the load.
    busy = max(api) - min(api)
    durations = sorted(duration for _, duration, _ in outcomes)
    assert durations[0] >= 0.6 * durations[-1], durations  # first come, first served: all finish together
    tokens = len(timeline["token"])
    lifetimes = busy / TOKEN_LIFETIME
    assert tokens <= lifetimes + 2, (tokens, lifetimes)  # one per lifetime, not one per process
    assert sum(m["token_requests"] for _, _, m in outcomes) == tokens
