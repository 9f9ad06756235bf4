"""Benchmark: order-detail calls per order when the daily and the hourly DAG backfill the same days at once.

The emulator (over HTTP) holds ``--days`` days of orders whose items change on several days. The daily
DAG's backfill of those days (one run per day, all at once) and the hourly DAG's backfill of the same days
(one run per hour, four at a time, as ``max_active_runs`` allows) extract side by side; a run's orders count
as loaded (known to the warehouse) when it finishes. Then every run is repeated: nothing changed, so no
detail should be fetched again.

Naive: each run fetches the details of the orders the warehouse lacks when it looks (the product before the
detail exchange, and what other bol syncs do). Product: the same runs with the detail exchange (claims in the
shared state, here SQLite as on one host, details published under the staging root).

Prints and writes ``detail_calls.json`` to ``--out``: detail calls per distinct order for both, and the
detail calls of the repeat. Run: ``make bench`` or ``python -m tests.benchmarks.detail_calls --out docs/bench``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bol_emulator import AccountConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bolsync.orders.extract import LIST_FILE, extract_orders
from bolsync.runs.staging import read_ndjson
from bolsync.runs.windows import SyncWindow
from bolsync_provider.auth.cache import MemoryTokenCache
from bolsync_provider.budget.shared_state import SharedState, open_shared_state
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.support.fixtures import fast_budget

ACCOUNT = AccountConfig("bench-client", "bench-secret", "4000999")
CONN_ID = "bol_bench_details"
DETAIL = "GET /retailer/orders/{order-id}"
HOURLY_AT_ONCE = 4


class Warehouse:
    """The orders a finished run has loaded (what ``known_order_ids`` would answer)."""

    def __init__(self) -> None:
        self._orders: set[str] = set()
        self._lock = threading.Lock()

    def known(self, _retailer_id: str, order_ids: set[str]) -> set[str]:
        with self._lock:
            return order_ids & self._orders

    def load(self, folder: Path) -> set[str]:
        ids = {str(o["orderId"]) for o in read_ndjson(folder / LIST_FILE)}
        with self._lock:
            self._orders |= ids
        return ids


def windows(days: int) -> tuple[list[SyncWindow], list[SyncWindow]]:
    """The daily and the hourly windows of the last ``days`` full UTC days."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [today - timedelta(days=d) for d in range(days, 0, -1)]
    daily = [SyncWindow(s, s + timedelta(days=1)) for s in starts]
    hourly = [SyncWindow(s + timedelta(hours=h), s + timedelta(hours=h + 1)) for s in starts for h in range(24)]
    return daily, hourly


def backfill(
    hook: Callable[[], BolRetailerHook], staging: Path, warehouse: Warehouse, exchange_root: Path | None, days: int
) -> set[str]:
    """Both backfills at once; returns the orders they loaded."""
    daily, hourly = windows(days)
    loaded: set[str] = set()
    counter = iter(range(1_000_000))
    lock = threading.Lock()

    def run(window: SyncWindow) -> None:
        with lock:
            folder = staging / f"run{next(counter)}"
        folder.mkdir(parents=True)
        extract_orders(hook(), window, datetime.now(UTC), folder, warehouse.known, exchange_root=exchange_root)
        ids = warehouse.load(folder)
        with lock:
            loaded.update(ids)

    with ThreadPoolExecutor(max_workers=len(daily)) as daily_pool, ThreadPoolExecutor(HOURLY_AT_ONCE) as hourly_pool:
        futures = [daily_pool.submit(run, w) for w in daily] + [hourly_pool.submit(run, w) for w in hourly]
        for future in futures:
            future.result()
    return loaded


def measure(
    emulator: EmulatorHandle, hook: Callable[[], BolRetailerHook], work: Path, exchange: bool, days: int
) -> dict[str, Any]:
    warehouse = Warehouse()
    root = work / "root" if exchange else None

    def detail_calls() -> int:
        return sum(emulator.stats.snapshot()["requests"].get(DETAIL, {}).values())

    emulator.stats.reset()
    orders = backfill(hook, work / "first", warehouse, root, days)
    first = detail_calls()
    emulator.stats.reset()
    backfill(hook, work / "again", warehouse, root, days)
    again = detail_calls()
    return {
        "orders": len(orders),
        "detail_calls": first,
        "detail_calls_per_order": round(first / max(1, len(orders)), 3),
        "detail_calls_on_repeat": again,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.detail_calls", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--orders-per-day", type=int, default=100)
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    config = EmulatorConfig(
        seed=21, accounts=[ACCOUNT], orders_per_day=args.orders_per_day, history_days=args.days + 1, rate_scale=100.0
    )
    with start_emulator(config) as emulator, tempfile.TemporaryDirectory(prefix="bolsync-bench-") as tmp:
        base = emulator.base_url
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "bol_retailer",
                "login": ACCOUNT.client_id,
                "password": ACCOUNT.client_secret,
                "extra": {"api_url": base, "login_url": f"{base}/token", "max_attempts": 4},
            }
        )
        state: SharedState = open_shared_state(f"sqlite:///{Path(tmp) / 'shared_state.sqlite'}")

        def hook() -> BolRetailerHook:
            return BolRetailerHook(CONN_ID, token_cache=MemoryTokenCache(), budget=fast_budget(), state=state)

        naive = measure(emulator, hook, Path(tmp) / "naive", exchange=False, days=args.days)
        product = measure(emulator, hook, Path(tmp) / "product", exchange=True, days=args.days)
    ratio = naive["detail_calls_per_order"] / max(product["detail_calls_per_order"], 1e-9)
    payload = {
        "benchmark": "detail_calls",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "setup": {
            "days": args.days,
            "orders_per_day": args.orders_per_day,
            "runs": f"{args.days} daily runs at once + {24 * args.days} hourly runs {HOURLY_AT_ONCE} at a time",
            "shared_state": "sqlite (one host)",
        },
        "naive": naive,
        "product": product,
        "naive_over_product": round(ratio, 2),
    }
    print(
        f"detail calls per order: naive {naive['detail_calls_per_order']} ({naive['detail_calls']} for "
        f"{naive['orders']} orders), product {product['detail_calls_per_order']} ({product['detail_calls']} for "
        f"{product['orders']} orders), naive/product {ratio:.2f}x; on a repeat with nothing changed: naive "
        f"{naive['detail_calls_on_repeat']}, product {product['detail_calls_on_repeat']} detail calls"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detail_calls.json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
