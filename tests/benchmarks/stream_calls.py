"""Benchmark: the API calls of every stream of two accounts syncing at once, against the fewest possible for the same
data and a naive full re-read, at bol's real limits.

The emulator (over HTTP, bol's per-endpoint limits, ``rate_scale`` 1) holds two accounts. For every stream of the
registry and every account, one Airflow process runs the stream's DAG (``dag.test``, its own metadata DB; one
PostgreSQL warehouse, one shared rate budget per credential in a shared SQLite state); all of them start at once.
Phase 1 runs on an empty warehouse; then the world changes (``tests.benchmarks.stream_runs``: returns registered and
handled, stock changed) and phase 2 runs each stream's next run.

Per stream and phase: the calls the runs made (counted at the emulator, both accounts, 429 answers apart), the
fewest possible for the data they landed and a naive full re-read of it (each stream's module says how it counts
them, from the emulator's truth and the warehouse before the run), and per account its busiest sliding second
against its budget. Prints a table and writes ``stream_calls.json`` to ``--out``. Run: ``make bench`` or
``python -m tests.benchmarks.stream_calls --out docs/bench`` (~5 min).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.streams.registry import STREAMS
from bolsync.warehouse.connection import connect_warehouse
from tests.benchmarks.stream_runs import Account, module_of
from tests.cluster.services import postgres_database
from tests.support.airflow_env import REPO, bol_connection, migrate_airflow_db, warehouse_connection

ACCOUNTS = {
    "bol_calls_a": AccountConfig("calls-client-a", "calls-secret-a", "5000001"),
    "bol_calls_b": AccountConfig("calls-client-b", "calls-secret-b", "5000002"),
}
#: The provider's default budget per credential (requests per second), which the runs share.
BUDGET_PER_SECOND = 5.0
PHASES = (1, 2)
#: One DAG run in a process of its own: parse first, then wait for the others at the barrier.
CHILD = """
import json, sys, time
from datetime import datetime
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

barrier, dag_id, logical, conf = sys.argv[1:5]
dag = DagBag(dag_folder=sys.argv[5]).dags[dag_id]
Path(barrier, f"ready-{sys.argv[6]}").touch()
while not Path(barrier, "go").exists():
    time.sleep(0.01)
started = time.time()
run = dag.test(logical_date=datetime.fromisoformat(logical), run_conf=json.loads(conf))
print(f"RESULT {run.state} {time.time() - started:.1f}")
"""


def label(endpoint: str) -> str:
    """An endpoint as the budget names it: ``GET /retailer/orders/{order-id}`` -> ``GET /retailer/orders/{id}``."""
    return re.sub(r"\{[^}]*\}", "{id}", endpoint)


def owner(endpoint: str, labels: Mapping[str, str]) -> str | None:
    """The stream whose endpoint label (``labels``: label -> stream) is ``endpoint``'s, or the longest that begins
    it (``GET /retailer/invoices/{id}/specification`` shares ``GET /retailer/invoices/{id}``'s limit)."""
    name = label(endpoint)
    found = [known for known in labels if name == known or name.startswith(known + "/")]
    return labels[max(found, key=len)] if found else None


def stream_requests(stats: Mapping[str, Any], stream: str) -> tuple[int, int]:
    """The requests of ``stream``'s endpoints in an emulator stats snapshot: (answered other than 429, 429s)."""
    labels = {endpoint.label: spec.name for spec in STREAMS.values() for endpoint in spec.endpoints}
    calls = throttled = 0
    for endpoint, codes in stats["requests"].items():
        if owner(endpoint, labels) == stream:
            throttled += int(codes.get("429", 0))
            calls += sum(int(n) for code, n in codes.items() if code != "429")
    return calls, throttled


class Runner:
    """Starts the DAG runs of one phase as processes of their own, all at once."""

    def __init__(self, work: Path, template_db: Path) -> None:
        self.work = work
        self.template_db = template_db

    def run_all(self, phase: int, jobs: list[tuple[str, str, datetime, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        barrier = self.work / f"barrier-{phase}"
        barrier.mkdir()
        children = {}
        for n, (key, dag_id, logical, conf) in enumerate(jobs):
            home = self.work / f"airflow-{phase}-{n}"
            home.mkdir()
            shutil.copy(self.template_db, home / "airflow.db")
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "include"), str(REPO / "plugins")]),
            }
            out = (home / "out.txt").open("w")
            err = (home / "err.txt").open("w")
            command = [sys.executable, "-c", CHILD, str(barrier), dag_id, logical.isoformat(), json.dumps(conf)]
            command += [str(REPO / "dags"), str(n)]
            children[key] = (subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err), home)
        deadline = time.monotonic() + 300
        while len(list(barrier.glob("ready-*"))) < len(jobs):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in children.values()):
                break
            time.sleep(0.2)
        (barrier / "go").touch()
        started = time.monotonic()
        results: dict[str, dict[str, Any]] = {}
        for key, (process, home) in children.items():
            try:
                process.wait(timeout=max(1.0, 900 - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            lines = [line.split() for line in (home / "out.txt").read_text().splitlines() if line.startswith("RESULT")]
            state = lines[-1][1] if lines else f"exit {process.returncode}"
            results[key] = {"state": state, "seconds": float(lines[-1][2]) if lines else None, "home": str(home)}
        results["_wall"] = {"seconds": round(time.monotonic() - started, 1)}
        return results


def phase_figures(
    phase: int,
    now: datetime,
    accounts: dict[str, Account],
    runner: Runner,
    emulator: Any,
) -> dict[str, Any]:
    """Run every stream of every account at once for ``phase``; the figures per stream."""
    modules = {name: module_of(name) for name in STREAMS}
    before = {
        (name, conn): module.snapshot(account) for name, module in modules.items() for conn, account in accounts.items()
    }
    if phase > 1:
        for module in modules.values():
            for account in accounts.values():
                module.change(account)
    jobs = []
    for name, module in modules.items():
        for conn_id in accounts:
            logical, conf = module.run(phase, now)
            jobs.append((f"{name}/{conn_id}", module.DAG, logical, {**conf, "accounts": [conn_id]}))
    emulator.stats.reset()
    results = runner.run_all(phase, jobs)
    stats = emulator.stats.snapshot()
    streams = {}
    for name, module in modules.items():
        fewest = naive = 0
        for conn_id, account in accounts.items():
            got = module.figures(account, phase, now, before[(name, conn_id)], module.snapshot(account))
            fewest, naive = fewest + got.fewest, naive + got.naive
        calls, throttled = stream_requests(stats, name)
        states = {conn: results[f"{name}/{conn}"]["state"] for conn in accounts}
        streams[name] = {
            "dag": module.DAG,
            "states": states,
            "run_seconds": {conn: results[f"{name}/{conn}"]["seconds"] for conn in accounts},
            "calls": calls,
            "fewest": fewest,
            "naive": naive,
            "answered_429": throttled,
            "calls_over_fewest": round(calls / fewest, 2) if fewest else None,
        }
    busiest = {conn: int(stats["max_requests_in_1s"].get(account.client_id, 0)) for conn, account in accounts.items()}
    return {
        "phase": phase,
        "wall_seconds": results["_wall"]["seconds"],
        "streams": streams,
        "busiest_second": busiest,
        "answered_429": sum(int(v) for v in stats["throttled"].values()),
        "failed": {k: v for k, v in results.items() if k != "_wall" and v["state"] != "success"},
    }


def format_table(phases: list[dict[str, Any]]) -> str:
    head = f"{'stream':<10} {'phase':>5} {'calls':>6} {'fewest':>6} {'naive':>6} {'429s':>5}  runs"
    lines = [head, "-" * len(head)]
    for figures in phases:
        for name, row in figures["streams"].items():
            states = ",".join(sorted(set(row["states"].values())))
            lines.append(
                f"{name:<10} {figures['phase']:>5} {row['calls']:>6} {row['fewest']:>6} {row['naive']:>6} "
                f"{row['answered_429']:>5}  {states}"
            )
        seconds = ", ".join(f"{conn} {n}" for conn, n in figures["busiest_second"].items())
        lines.append(f"phase {figures['phase']}: busiest sliding second per account: {seconds} "
                     f"(budget {BUDGET_PER_SECOND:g}/s); wall {figures['wall_seconds']} s")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.stream_calls", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))
    parser.add_argument("--orders-per-day", type=int, default=20)
    parser.add_argument("--history-days", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the Airflow homes and their logs)")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    started = time.monotonic()
    config = EmulatorConfig(
        seed=20, accounts=list(ACCOUNTS.values()), orders_per_day=args.orders_per_day, history_days=args.history_days
    )
    work = Path(tempfile.mkdtemp(prefix="bolsync-stream-calls-"))
    try:
        with postgres_database("bolsync_bench_calls") as dsn, start_emulator(config) as emulator:
            payload = measure(work, dsn, emulator, config)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    payload["seconds"] = round(time.monotonic() - started, 1)
    print(format_table(payload["phases"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "stream_calls.json"
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {target}" + (f" (work folder {work})" if args.keep else ""), flush=True)
    failed = [key for figures in payload["phases"] for key in figures["failed"]]
    if failed:
        print(f"FAILED runs: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def measure(work: Path, dsn: str, emulator: Any, config: EmulatorConfig) -> dict[str, Any]:
    home = work / "airflow-template"
    home.mkdir()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__BOLSYNC__SHARED_STATE_URL": f"sqlite:///{work / 'shared_state.sqlite'}",
            "AIRFLOW__BOLSYNC__RETURNS_REGISTRATION_MARGIN_MINUTES": "0",
            "AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS": "1",
        }
    )
    for conn_id, account in ACCOUNTS.items():
        bol_connection(conn_id, emulator.base_url, account.client_id, account.client_secret)
    warehouse_connection(dsn)
    with connect_warehouse(dsn):
        pass
    migrate_airflow_db()
    accounts = {
        conn_id: Account(
            conn_id,
            a.client_id,
            a.retailer_id,
            emulator.base_url,
            dsn,
            export_pending_polls=config.export_pending_polls,
        )
        for conn_id, a in ACCOUNTS.items()
    }
    runner = Runner(work, home / "airflow.db")
    now = datetime.now(UTC)
    phases = [phase_figures(phase, now, accounts, runner, emulator) for phase in PHASES]
    return {
        "benchmark": "stream_calls",
        "measured_at": now.isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "setup": {
            "accounts": len(ACCOUNTS),
            "streams": list(STREAMS),
            "limits": "bol's (emulator rate_scale 1; the provider's default endpoint limits)",
            "budget_per_account_per_second": BUDGET_PER_SECOND,
            "orders_per_day": config.orders_per_day,
            "history_days": config.history_days,
            "runs": {name: module_of(name).DAG for name in STREAMS},
        },
        "phases": phases,
    }


if __name__ == "__main__":
    sys.exit(main())
