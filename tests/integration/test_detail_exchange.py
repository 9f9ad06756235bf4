"""Overlapping runs fetch each new order's detail once: the daily run and the hourly runs of one day, at once.

Real HTTP to the emulator, the claims in the real Redis shared state, the extracts in parallel threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bolsync.orders.detail_exchange import DetailExchange
from bolsync.orders.extract import DETAILS_FILE, LIST_FILE, ExtractResult, extract_orders
from bolsync.runs.staging import read_ndjson
from bolsync.runs.windows import SyncWindow
from bolsync_provider.auth.cache import MemoryTokenCache
from bolsync_provider.budget.shared_state import open_shared_state
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.support.fixtures import fast_budget
from tests.support.services import redis_url

ACCOUNT = AccountConfig("exchange-client", "exchange-secret", "4000777")
DETAIL = "GET /retailer/orders/{order-id}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(
        EmulatorConfig(seed=11, accounts=[ACCOUNT], orders_per_day=90, history_days=3, rate_scale=100.0)
    )
    yield handle
    handle.stop()


@pytest.fixture
def hooks(emulator: EmulatorHandle, set_connection: Callable[..., str]) -> Callable[[], BolRetailerHook]:
    """Hooks of one credential whose shared state (claims, leases) is the real Redis."""
    base = emulator.base_url
    conn_id = set_connection(
        "bol_exchange",
        api_url=base,
        login_url=f"{base}/token",
        login=ACCOUNT.client_id,
        password=ACCOUNT.client_secret,
        max_attempts=4,
    )
    state = open_shared_state(redis_url())
    return lambda: BolRetailerHook(conn_id, token_cache=MemoryTokenCache(), budget=fast_budget(), state=state)


def _day_and_hours() -> list[SyncWindow]:
    """Yesterday (UTC) as one daily window, then its 24 hourly windows."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    hours = [SyncWindow(start + timedelta(hours=h), start + timedelta(hours=h + 1)) for h in range(24)]
    return [SyncWindow(start, start + timedelta(days=1)), *hours]


def _run_overlapping(
    hooks: Callable[[], BolRetailerHook], staging: Path, exchange_root: Path | None
) -> list[tuple[Path, ExtractResult]]:
    """The daily extract and the 24 hourly extracts of the same day, four at a time, nothing loaded yet."""

    def one(number: int, window: SyncWindow) -> tuple[Path, ExtractResult]:
        folder = staging / f"run{number}"
        folder.mkdir(parents=True)
        result = extract_orders(
            hooks(), window, datetime.now(UTC), folder, lambda _r, _ids: set(), exchange_root=exchange_root
        )
        return folder, result

    with ThreadPoolExecutor(max_workers=5) as pool:
        return list(pool.map(lambda pair: one(*pair), enumerate(_day_and_hours())))


def _listed_and_staged(runs: list[tuple[Path, ExtractResult]]) -> set[str]:
    listed: set[str] = set()
    for folder, _ in runs:
        ids = {str(o["orderId"]) for o in read_ndjson(folder / LIST_FILE)}
        staged = {str(o["orderId"]) for o in read_ndjson(folder / DETAILS_FILE)}
        assert staged == ids, f"{folder.name}: every listed order has its detail staged"
        listed |= ids
    return listed


def test_overlapping_runs_fetch_each_detail_once(emulator: EmulatorHandle, hooks, tmp_path: Path) -> None:
    emulator.stats.reset()
    naive = _run_overlapping(hooks, tmp_path / "naive", exchange_root=None)
    naive_calls = emulator.stats.snapshot()["requests"].get(DETAIL, {}).get("200", 0)
    orders = _listed_and_staged(naive)

    emulator.stats.reset()
    shared = _run_overlapping(hooks, tmp_path / "exchanged", exchange_root=tmp_path / "root")
    calls = emulator.stats.snapshot()["requests"].get(DETAIL, {}).get("200", 0)
    shared_orders = _listed_and_staged(shared)

    assert shared_orders == orders
    assert len(orders) > 50
    assert naive_calls >= 1.5 * len(orders), "the scenario lists each order in two runs at once"
    assert calls <= 1.02 * len(orders), f"{calls} detail calls for {len(orders)} orders"
    assert sum(r.order_details_fetched for _, r in shared) == calls
    assert sum(r.order_details_shared for _, r in shared) == naive_calls - calls
    truth = {o["orderId"]: o for o in map(lambda oid: emulator.world.order_detail(ACCOUNT.client_id, oid), orders)}
    for folder, _ in shared:
        for staged in read_ndjson(folder / DETAILS_FILE):
            expected = truth[staged["orderId"]]
            assert [i["orderItemId"] for i in staged["orderItems"]] == [
                i["orderItemId"] for i in expected["orderItems"]
            ]
            assert set(staged.get("shipmentDetails", {})) <= {"countryCode"}
            assert "billingDetails" not in staged


def test_a_claim_left_by_a_dead_worker_lapses_and_is_taken_over(
    emulator: EmulatorHandle, hooks, tmp_path: Path
) -> None:
    daily = _day_and_hours()[0]
    probe = extract_orders(hooks(), daily, datetime.now(UTC), _mkdir(tmp_path / "probe"), lambda _r, _ids: set())
    victim = sorted(str(o["orderId"]) for o in read_ndjson(tmp_path / "probe" / LIST_FILE))[0]
    dead = DetailExchange(tmp_path / "root", open_shared_state(redis_url()), probe.retailer_id, claim_ttl=3.0)
    assert dead.claim(victim), "the dead worker took the order and never published it"

    emulator.stats.reset()
    result = extract_orders(
        hooks(),
        daily,
        datetime.now(UTC),
        _mkdir(tmp_path / "run"),
        lambda _r, _ids: set(),
        exchange_root=tmp_path / "root",
    )
    staged = {str(o["orderId"]) for o in read_ndjson(tmp_path / "run" / DETAILS_FILE)}
    assert victim in staged
    assert result.order_details_fetched == probe.order_details_fetched
    assert emulator.stats.snapshot()["requests"][DETAIL]["200"] == probe.order_details_fetched
    assert dead.published(victim) is not None, "the run that took the order over published it"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
