"""Benchmark: an agency syncs many bol accounts, each with its own budget, on one and on two Celery workers.

Fifty emulator accounts (``--accounts``) with ~100 orders a day, each credential limited to bol's 5
requests/s by the emulator (``--credential-rate``) and by its connection's budget. A CeleryExecutor cluster
(``tests.cluster``: PostgreSQL metadata and warehouse, Redis broker and shared state) runs ONE nightly sync
of ``bol_orders_daily`` (yesterday, one run mapped over every account), first with ONE worker, then with
TWO (concurrency 4 each; the ``bol_api`` and ``bol_warehouse`` pools sized to the worker slots). Each
configuration gets a fresh cluster, emulator and warehouse.

Measured per configuration: wall time of the run (created -> done), accounts synced per hour (an account =
one night, ~100 orders), API calls (emulator), CPU seconds of every Airflow process
(psutil over the process trees: components, Celery workers with their task processes) per 1,000 API calls,
CPU of the PostgreSQL backends of the metadata and warehouse databases, metadata transactions, the Redis
server's commands and CPU (server-wide), 429s, and the rows against the emulator's ground truth. The meters
are also read for 60 s on the settled, idle cluster first, which splits them into a fixed cost per second and a
marginal cost per task.

Baseline in the same run: a sequential loop in one process (no Airflow) calling the same layers
(``BolRetailerHook`` -> ``extract_orders`` -> ``load_staged_orders``) account after account, day after day,
on a fresh emulator and warehouse, for ``--baseline-accounts`` of the ten accounts (each is budget-bound,
so a subset gives the per-account rate).

Writes ``many_shops.json`` to ``--out``. Run: ``make bench`` or
``python -m tests.benchmarks.many_shops --out docs/bench`` (~17 min on 2 idle cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bolsync_demo.api import emulator_get
from bolsync_demo.procs import free_port, start_process, stop_group
from tests.cluster.backfill import Days
from tests.cluster.measure import check_rows
from tests.cluster.run import ClusterReport, format_report, run_cluster
from tests.cluster.services import postgres_database
from tests.cluster.stack import Account, ClusterSpec, emulator_command, say

ACCOUNTS = 50
ORDERS_PER_DAY = 100
#: Orders placed over the last two days; the nightly run syncs those whose latest change fell yesterday.
HISTORY_DAYS = 2
DAYS = 1
RATE = 5.0
CONCURRENCY = 4
RUN_TIMEOUT = 900.0
#: The meters are first read on the settled, idle cluster for this long: the fixed cost per second, which the
#: per-account (marginal) figures leave out.
IDLE_SECONDS = 60.0


def agency_accounts(count: int = ACCOUNTS) -> tuple[Account, ...]:
    return tuple(
        Account(f"bol_agency_{n:02d}", f"agency-client-{n:02d}", f"agency-secret-{n:02d}", str(3_000_000 + n))
        for n in range(1, count + 1)
    )


def spec_for(workers: int, accounts: tuple[Account, ...]) -> ClusterSpec:
    slots = workers * CONCURRENCY
    return ClusterSpec(
        accounts=accounts,
        workers=workers,
        concurrency=CONCURRENCY,
        rate_per_second=RATE,
        orders_per_day=ORDERS_PER_DAY,
        history_days=HISTORY_DAYS,
        pools={"bol_api": slots, "bol_warehouse": slots},
    )


# ---------------------------------------------------------------- the cluster


def cluster_figures(workers: int, accounts: tuple[Account, ...]) -> dict[str, Any]:
    """One configuration: deploy, backfill three days for every account, measure, tear down."""
    say(f"== {workers} worker(s) x concurrency {CONCURRENCY}, {len(accounts)} accounts")
    load_before = os.getloadavg()
    report = run_cluster(
        spec_for(workers, accounts), days=DAYS, max_active_runs=DAYS, timeout=RUN_TIMEOUT, idle_seconds=IDLE_SECONDS
    )
    print(format_report(report), flush=True)
    summary = summarize(report, len(accounts), load_before)
    say(load_line(summary))
    return summary


def load_line(summary: dict[str, Any]) -> str:
    """What bol would have seen of one configuration, counted on arrival at the emulator."""
    return (
        f"load, {summary['workers']} worker(s): {summary['answered_429']} answers of 429, busiest sliding second "
        f"{summary['max_in_1s_any_account']} requests (budget {RATE:g}/s per account), on arrival at the emulator"
    )


def summarize(report: ClusterReport, accounts: int, load_before: tuple[float, ...]) -> dict[str, Any]:
    wall = report.backfill.seconds
    api_calls = sum(c.api_requests for c in report.credentials)
    token_calls = sum(c.token_requests for c in report.credentials)
    calls = api_calls + token_calls
    per_1000 = {
        f"{key}_per_1000_calls": round(value * 1000 / calls, 3) for key, value in report.meters.items() if calls
    }
    tasks = sum(sum(counts.values()) for counts in report.hosts.values())
    idle = report.idle_meters_per_second
    marginal = {key: value - idle.get(key, 0.0) * wall for key, value in report.meters.items()}
    return {
        "workers": report.spec["workers"],
        "accounts": accounts,
        "ok": report.ok,
        "error": report.error,
        "backfill_seconds": round(wall, 1),
        "accounts_per_hour": round(accounts * 3600 / wall, 1) if wall else None,
        "account_days_per_hour": round(accounts * DAYS * 3600 / wall, 1) if wall else None,
        **per_account(report, accounts * DAYS, marginal),
        "api_calls": api_calls,
        "token_calls": token_calls,
        "task_instances": tasks,
        "tasks_per_host": {host: sum(counts.values()) for host, counts in sorted(report.hosts.items())},
        "orders_synced": sum(r.stored_orders for r in report.rows),
        "rows_exact": bool(report.rows) and all(r.ok for r in report.rows),
        "answered_429": sum(c.answered_429 for c in report.credentials),
        "max_in_1s_any_account": max((c.max_in_1s for c in report.credentials), default=0),
        "meters": {key: round(value, 2) for key, value in report.meters.items()},
        "cpu_seconds_per_1000_calls": per_1000.get("airflow_cpu_seconds_per_1000_calls"),
        "per_1000_calls": per_1000,
        "cpu_seconds_per_task": round(report.meters.get("airflow_cpu_seconds", 0.0) / tasks, 2) if tasks else None,
        "idle_per_second": {key: round(value, 4) for key, value in idle.items()},
        "marginal_per_task": {key: round(value / tasks, 3) for key, value in marginal.items()} if tasks else {},
        "marginal_per_1000_calls": {key: round(value * 1000 / calls, 2) for key, value in marginal.items()}
        if calls
        else {},
        "timings": {key: round(value, 1) for key, value in report.timings.items()},
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


#: What each metered process does per account-night.
ROLES = {
    "cpu_seconds.workers": "task start-up (fork, DAG file parse, imports), the sync itself, task SDK calls",
    "cpu_seconds.scheduler": "scheduling: task states, pools, mapping, run state (metadata writes)",
    "cpu_seconds.api-server": "Execution API: task start/finish, heartbeats, XCom, connections, variables",
    "cpu_seconds.dag-processor": "DAG parsing (a fixed cost: parses on its interval, not per task)",
    "cpu_seconds.triggerer": "triggerer (deferred waits)",
    "metadata_db_cpu_seconds": "PostgreSQL backends of the metadata database",
}


def per_account(report: ClusterReport, nights: int, marginal: dict[str, float]) -> dict[str, Any]:
    """CPU per account-night, gross and marginal (idle cost removed), where it goes, and the accounts one core
    syncs per hour at saturation: (3,600 s - the idle Airflow and metadata-DB CPU of that hour) / marginal CPU
    of an account-night (Airflow processes + metadata DB)."""
    if not nights:
        return {}
    idle = report.idle_meters_per_second
    cpu_keys = ("airflow_cpu_seconds", "metadata_db_cpu_seconds")
    marginal_cpu = sum(marginal.get(key, 0.0) for key in cpu_keys) / nights
    idle_share = sum(idle.get(key, 0.0) for key in cpu_keys)
    return {
        "cpu_seconds_per_account_night": round(report.meters.get("airflow_cpu_seconds", 0.0) / nights, 3),
        "marginal_cpu_seconds_per_account_night": round(marginal.get("airflow_cpu_seconds", 0.0) / nights, 3),
        "accounts_per_core_hour_at_saturation": round(3600 * (1 - idle_share) / marginal_cpu, 1)
        if marginal_cpu > 0
        else None,
        "where_cpu_goes_per_account_night": {
            key: {"marginal_seconds": round(marginal.get(key, 0.0) / nights, 3), "what": what}
            for key, what in ROLES.items()
        },
        "metadata_transactions_per_account_night": round(marginal.get("metadata_db_transactions", 0.0) / nights, 1),
        "metadata_rows_written_per_account_night": round(marginal.get("metadata_db_rows_written", 0.0) / nights, 1),
    }


#: The projection's night: the hours a nightly sync of every account may take.
NIGHT_HOURS = 2.0
PROJECTED_ACCOUNTS = 1000
PROJECTION_ASSUMPTIONS = (
    "CPU: the idle cost of one Airflow deployment for the night plus the marginal CPU per account-night (Airflow "
    "processes and metadata DB); task slots: each account holds one for its budget-bound time (its API calls at "
    "the budget). Accounts like the measured ones (~100 orders a night), a PostgreSQL warehouse (loads in "
    "parallel), 2-core workers of concurrency 8; the measured host ran every component and both workers on the "
    "same 2 cores, so two workers there show contention, not scale-out."
)


def projection(measured: dict[str, Any]) -> dict[str, Any]:
    """Workers for ``PROJECTED_ACCOUNTS`` nightly syncs in ``NIGHT_HOURS``, from one configuration's figures
    (see :data:`PROJECTION_ASSUMPTIONS`)."""
    nights = PROJECTED_ACCOUNTS
    idle = measured["idle_per_second"]
    fixed_per_second = idle.get("airflow_cpu_seconds", 0.0) + idle.get("metadata_db_cpu_seconds", 0.0)
    marginal = (
        measured["marginal_cpu_seconds_per_account_night"]
        + measured["where_cpu_goes_per_account_night"]["metadata_db_cpu_seconds"]["marginal_seconds"]
    )
    night = NIGHT_HOURS * 3600
    core_seconds = fixed_per_second * night + nights * marginal
    calls_per_account = (measured["api_calls"] + measured["token_calls"]) / measured["accounts"]
    slot_seconds = nights * calls_per_account / RATE
    cores = core_seconds / night
    slots = slot_seconds / night
    return {
        "accounts": nights,
        "night_hours": NIGHT_HOURS,
        "core_seconds": round(core_seconds),
        "busy_cores": round(cores, 2),
        "busy_task_slots": round(slots, 1),
        "workers_of_2_cores_concurrency_8": max(1, math.ceil(max(cores / 2, slots / 8))),
        "assumptions": PROJECTION_ASSUMPTIONS,
    }


def startup_figures() -> dict[str, float]:
    """CPU seconds a fresh task process spends before its work (median of 3): importing the task SDK, then
    parsing ``bol_orders_daily``'s DAG file (every task process parses its DAG file)."""
    code = (
        "import time,runpy;t=time.process_time();import airflow.sdk;a=time.process_time();"
        "runpy.run_path('dags/bol_orders_daily.py');b=time.process_time();print(a-t,b-a)"
    )
    readings = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        readings.append([float(v) for v in out.stdout.split()[-2:]])
    sdk, dag = (sorted(r[i] for r in readings)[1] for i in (0, 1))
    return {"import_task_sdk_cpu_seconds": round(sdk, 3), "parse_dag_file_cpu_seconds": round(dag, 3)}


# ---------------------------------------------------------------- the naive baseline


@contextmanager
def emulator(spec: ClusterSpec, folder: Path) -> Iterator[str]:
    """The emulator of ``spec`` as a process of its own; its base URL."""
    port = free_port()
    process = start_process(emulator_command(spec, port, folder), dict(os.environ), folder / "emulator.log", folder)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if emulator_get(url, "/_emulator/health").get("status") == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the baseline's emulator did not start (log {folder / 'emulator.log'})")
            time.sleep(0.3)
        yield url
    finally:
        stop_group(process.pid, "emulator", signal.SIGTERM, 10.0, process, lambda _m: None)


@contextmanager
def connections(accounts: tuple[Account, ...], url: str, home: Path) -> Iterator[None]:
    """``AIRFLOW_CONN_*`` for the accounts (and a private AIRFLOW_HOME) in this process, undone afterwards."""
    values = {"AIRFLOW_HOME": str(home)}
    for account in accounts:
        values[f"AIRFLOW_CONN_{account.conn_id.upper()}"] = json.dumps(
            {
                "conn_type": "bol_retailer",
                "login": account.client_id,
                "password": account.client_secret,
                "extra": {"api_url": url, "login_url": f"{url}/token", "rate_limit_per_second": RATE},
            }
        )
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def baseline_figures(accounts: tuple[Account, ...]) -> dict[str, Any]:
    """Sync ``accounts`` one after the other, day after day, in this process: no Airflow, no parallelism."""
    say(f"== baseline: sequential loop in one process, {len(accounts)} accounts x {DAYS} days")
    spec = spec_for(1, agency_accounts())
    days = Days.ending_yesterday(DAYS, datetime.now(UTC))
    with (
        tempfile.TemporaryDirectory(prefix="bolsync-bench-") as scratch,
        postgres_database("bolsync_bench_wh") as warehouse,
        emulator(spec, Path(scratch)) as url,
        connections(accounts, url, Path(scratch) / "airflow"),
    ):
        cpu_before, started = _cpu_seconds(), time.monotonic()
        per_account = [sync_account(account, days, warehouse, Path(scratch) / account.conn_id) for account in accounts]
        wall, cpu = time.monotonic() - started, _cpu_seconds() - cpu_before
        stats = emulator_get(url, "/_emulator/stats")
        rows = [check_rows(warehouse, url, account, *days.window) for account in accounts]
    calls = sum(stats["requests_by_client"].values()) + sum(stats["token_requests"].values())
    figures = {
        "accounts": len(accounts),
        "seconds": round(wall, 1),
        "seconds_per_account": [round(s, 1) for s in per_account],
        "accounts_per_hour": round(len(accounts) * 3600 / wall, 1),
        "api_calls": calls,
        "cpu_seconds": round(cpu, 1),
        "cpu_seconds_per_1000_calls": round(cpu * 1000 / calls, 3) if calls else None,
        "answered_429": sum(stats["throttled"].values()),
        "orders_synced": sum(r.stored_orders for r in rows),
        "rows_exact": all(r.ok for r in rows),
    }
    say(f"baseline: {figures}")
    return figures


def sync_account(account: Account, days: Days, warehouse: str, folder: Path) -> float:
    """Extract and load each day of one account with the product's layers; its wall seconds."""
    from bolsync.orders.extract import extract_orders
    from bolsync.orders.load import known_order_ids, load_staged_orders
    from bolsync.runs.windows import SyncWindow
    from bolsync.warehouse.connection import connect_warehouse
    from bolsync_provider.auth.cache import MemoryRefreshTokenStore, MemoryTokenCache
    from bolsync_provider.budget.shared_state import open_shared_state
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    started = time.monotonic()
    hook = BolRetailerHook(
        account.conn_id,
        token_cache=MemoryTokenCache(),
        state=open_shared_state("memory://"),
        refresh_tokens=MemoryRefreshTokenStore(),
    )

    def known(retailer_id: str, order_ids: set[str]) -> set[str]:
        with connect_warehouse(warehouse) as conn:
            return known_order_ids(conn, retailer_id, order_ids)

    for start, end in days.each():
        staging = folder / start.date().isoformat()
        staging.mkdir(parents=True)
        result = extract_orders(hook, SyncWindow(start, end), datetime.now(UTC), staging, known)
        with connect_warehouse(warehouse) as conn:
            load_staged_orders(conn, result.retailer_id, staging)
    return time.monotonic() - started


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.many_shops", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="configurations to run")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--baseline-accounts", type=int, default=3, help="0 skips the baseline")
    parser.add_argument("--label", default="", help="recorded in the JSON and its name (e.g. before)")
    args = parser.parse_args(argv)
    accounts = agency_accounts(args.accounts)
    started = time.monotonic()
    load_at_start = [round(v, 2) for v in os.getloadavg()]
    startup = startup_figures()
    configurations = [cluster_figures(workers, accounts) for workers in args.workers]
    baseline = baseline_figures(accounts[: args.baseline_accounts]) if args.baseline_accounts else None
    payload = {
        "benchmark": "many_shops",
        "label": args.label,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "airflow": version("apache-airflow"),
            "celery": version("celery"),
            "load_average_at_start": load_at_start,
        },
        "task_start_up": startup,
        "setup": {
            "accounts": len(accounts),
            "orders_per_day": ORDERS_PER_DAY,
            "history_days": HISTORY_DAYS,
            "nights": DAYS,
            "budget_per_account_per_second": RATE,
            "concurrency_per_worker": CONCURRENCY,
            "pools": "bol_api = bol_warehouse = workers x concurrency",
            "executor": "CeleryExecutor; PostgreSQL metadata + warehouse, Redis broker + shared state",
        },
        "configurations": configurations,
        "baseline_sequential": baseline,
        "projection_1000_accounts": projection(configurations[0]) if configurations else None,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / (f"many_shops_{args.label}.json" if args.label else "many_shops.json")
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    for summary in configurations:
        say(load_line(summary))
    if baseline is not None:
        say(f"load, sequential baseline: {baseline['answered_429']} answers of 429")
    say(f"wrote {target}")
    ok = all(c["ok"] for c in configurations) and (baseline is None or baseline["rows_exact"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
