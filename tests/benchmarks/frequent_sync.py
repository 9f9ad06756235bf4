"""Benchmark: order-list calls per run on a large day, the hourly DAG's date path against the 15-minute DAG's
change-interval path.

The emulator (over HTTP) holds a shop placing ``--orders-per-day`` orders a day (4,000 by default: about 10,000
orders on a day's list by its end, as items ship or are cancelled over the following days), its clock set to a
weekday at each of ``--times`` (Dutch time). At each time T:

- before: the hourly run of [T-1h, T), started a minute after T: its window is over before it starts and
  ``change-interval-minute`` reaches back at most 60 minutes, so it lists the whole Dutch day so far by
  ``latest-change-date`` and settles it (the product's extract, as ``bol_orders_hourly`` runs it);
- after: the four 15-minute runs of the same hour, each a minute after its quarter ends (``bol_orders_15min``):
  ``change-interval-minute`` of the last ~20 minutes. Each runs against a world of its own, anchored at its
  moment (the same volume and another seed: the same kind of day, not the same orders).

Every order is taken as known to the warehouse, so only list calls are made; they are counted at the
emulator. The emulator draws each past change of an order between its placement and the world's "now", so
changes are densest just before "now": the hour before T holds more changes than an even spread of the day's
would, which makes the 15-minute figure a pessimistic one.

Prints and writes ``frequent_sync.json`` to ``--out``: list calls per run before and after and their ratio,
per hour, and the minutes each takes at bol's 25 list calls a minute. Run: ``make bench`` or
``python -m tests.benchmarks.frequent_sync --out docs/bench``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bol_emulator.world import World
from bolsync.orders.extract import extract_orders
from bolsync.runs.windows import AMSTERDAM, SyncWindow
from bolsync_provider.auth.cache import MemoryTokenCache
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.support.fixtures import fast_budget

ACCOUNT = AccountConfig("bench-frequent", "bench-frequent-secret", "4000888")
CONN_ID = "bol_bench_frequent"
LIST = "GET /retailer/orders"
#: bol's limit of GET /retailer/orders.
LIST_CALLS_PER_MINUTE = 25
#: A weekday; the world's clock is set to it (bol keeps 3 months of history counted from that clock).
DAY = date(2026, 3, 10)
#: A run starts this long after its window ends.
START_DELAY = timedelta(minutes=1)
QUARTER = timedelta(minutes=15)
SEED = 31


def _all_known(_retailer_id: str, order_ids: set[str]) -> set[str]:
    return set(order_ids)


def orders_changed_on(world: World, day: date) -> int:
    """Orders with an item whose latest change falls on the Dutch ``day``: that day's list."""
    with world.lock:
        orders = world.account(ACCOUNT.client_id).orders.values()
        return sum(1 for o in orders if any(i.latest_changed_at.astimezone(AMSTERDAM).date() == day for i in o.items))


def measure_run(window: SyncWindow, orders_per_day: int, seed: int, work: Path) -> dict[str, Any]:
    """One extract of ``window`` against a fresh world whose clock reads ``START_DELAY`` after its end."""
    config = EmulatorConfig(
        seed=seed,
        accounts=[ACCOUNT],
        orders_per_day=orders_per_day,
        history_days=4,
        anchor=window.end + START_DELAY,
        rate_scale=1000.0,
    )
    with start_emulator(config) as emulator:
        base = emulator.base_url
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "bol_retailer",
                "login": ACCOUNT.client_id,
                "password": ACCOUNT.client_secret,
                "extra": {"api_url": base, "login_url": f"{base}/token", "max_attempts": 4},
            }
        )
        hook = BolRetailerHook(CONN_ID, token_cache=MemoryTokenCache(), budget=fast_budget(), state=MemorySharedState())
        clock = emulator.world.clock.now
        staging = work / f"run-{window.start.timestamp():.0f}-{window.end.timestamp():.0f}"
        staging.mkdir(parents=True)
        emulator.stats.reset()
        result = extract_orders(hook, window, clock(), staging, _all_known, clock=clock)
        calls = sum(emulator.stats.snapshot()["requests"].get(LIST, {}).values())
        day_orders = orders_changed_on(emulator.world, window.end.astimezone(AMSTERDAM).date())
    return {
        "window": f"{window.start.isoformat()} .. {window.end.isoformat()}",
        "orders_changed_today": day_orders,
        "queries": result.queries,
        "list_calls": calls,
        "settle_calls": result.settle_pages,
        "items_listed": result.items_listed + result.items_outside_window,
        "items_in_window": result.items_listed,
    }


def measure_hour(end: datetime, orders_per_day: int, work: Path) -> dict[str, Any]:
    """The hourly run of the hour ending at ``end`` and the four 15-minute runs of that hour."""
    hourly = measure_run(SyncWindow(end - timedelta(hours=1), end), orders_per_day, SEED, work)
    quarters = [
        measure_run(SyncWindow(end - n * QUARTER, end - (n - 1) * QUARTER), orders_per_day, SEED + n, work)
        for n in range(4, 0, -1)
    ]
    per_run = statistics.mean(q["list_calls"] for q in quarters)
    return {
        "hour_end": end.astimezone(AMSTERDAM).strftime("%H:%M"),
        "before": hourly,
        "after": quarters,
        "list_calls_per_run": {
            "before": hourly["list_calls"],
            "after": round(per_run, 2),
            "before_over_after": round(hourly["list_calls"] / per_run, 1),
        },
        "list_calls_per_hour": {"before": hourly["list_calls"], "after": sum(q["list_calls"] for q in quarters)},
    }


def main(argv: list[str] | None = None) -> int:
    description = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.frequent_sync", description=description)
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))
    parser.add_argument(
        "--orders-per-day",
        type=int,
        default=4_000,
        help="orders placed a day (4,000: about 10,000 orders on a day's list by its end)",
    )
    parser.add_argument("--times", default="10:00,15:00,20:00", help="hours (Dutch time) whose runs are measured")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    ends = [datetime.combine(DAY, time.fromisoformat(t), AMSTERDAM) for t in args.times.split(",")]
    with tempfile.TemporaryDirectory(prefix="bolsync-bench-frequent-") as tmp:
        hours = [measure_hour(end, args.orders_per_day, Path(tmp)) for end in ends]
    payload = {
        "benchmark": "frequent_sync",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "setup": {
            "orders_per_day": args.orders_per_day,
            "day": DAY.isoformat(),
            "before": "bol_orders_hourly's extract of [T-1h, T) at T+1 min (latest-change-date of the day so far)",
            "after": "bol_orders_15min's extracts of the four quarters of that hour, each 1 min after its end",
            "counted": "GET /retailer/orders calls at the emulator; every order known (no detail calls)",
        },
        "hours": hours,
    }
    for hour in hours:
        run, per_hour = hour["list_calls_per_run"], hour["list_calls_per_hour"]
        print(
            f"{args.orders_per_day} orders placed a day, hour ending {hour['hour_end']} "
            f"({hour['before']['orders_changed_today']} orders changed today so far, "
            f"{hour['before']['items_in_window']} item changes in the hour): list calls per run before "
            "(hourly, date path) "
            f"{run['before']}, after (15-minute, change interval) {run['after']}, before/after "
            f"{run['before_over_after']}x; per hour {per_hour['before']} vs {per_hour['after']} "
            f"({per_hour['before'] / LIST_CALLS_PER_MINUTE:.1f} vs {per_hour['after'] / LIST_CALLS_PER_MINUTE:.1f} "
            f"minutes at bol's {LIST_CALLS_PER_MINUTE} list calls a minute)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "frequent_sync.json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
