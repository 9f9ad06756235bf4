"""``python -m tests.cluster.run`` (``make cluster``): bolsync on a CeleryExecutor cluster, measured.

Starts the production topology from the venv (see ``tests.cluster.stack``), backfills ``bol_orders_daily``
over ``--days`` days for the emulator's two demo accounts, and prints: tasks per worker, each credential's
achieved request rate against its budget, busiest 1-second window, 429s and token requests per token
lifetime (all from the emulator's request timeline, first to last request), rows against the emulator's
ground truth, wall times. Everything started is stopped and removed at the end, also on failure.
Exit code 0 when the runs succeeded and the rows are exact, 1 otherwise (the rate goals are reported).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from bolsync_demo.api import ApiError
from tests.cluster.backfill import DAG_ID, BackfillOutcome, Days, backfill
from tests.cluster.measure import CredentialFigures, RowCheck, check_rows, credential_figures, tasks_per_host
from tests.cluster.meters import Meter, default_meters
from tests.cluster.stack import Cluster, ClusterError, ClusterSpec, say

GOAL_BUDGET_FRACTION = 0.95
#: The idle cluster is metered only after this long: its components' start-up work is not its idle cost.
SETTLE_SECONDS = 30.0


@dataclass
class ClusterReport:
    """Everything one cluster run measured."""

    spec: dict[str, Any]
    days: list[str]
    backfill: BackfillOutcome
    hosts: dict[str, Counter[str]] = field(default_factory=dict)
    credentials: list[CredentialFigures] = field(default_factory=list)
    rows: list[RowCheck] = field(default_factory=list)
    meters: dict[str, float] = field(default_factory=dict)
    #: The same meters per second while the cluster idled before the backfill (``idle_seconds`` > 0).
    idle_meters_per_second: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: The machine's 1/5/15-minute load averages when the backfill started and ended (other users count).
    load_average: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None

    @property
    def workers_used(self) -> int:
        return sum(1 for counts in self.hosts.values() if sum(counts.values()))

    @property
    def ok(self) -> bool:
        """The runs succeeded and every account's rows equal the truth (timing-independent outcomes)."""
        return self.error is None and self.backfill.ok and bool(self.rows) and all(r.ok for r in self.rows)

    def goals(self) -> list[tuple[str, bool]]:
        """The rate goals, per credential."""
        goals = []
        for c in self.credentials:
            goals += [
                (f"{c.conn_id}: rate {c.budget_fraction:.3f} of budget >= {GOAL_BUDGET_FRACTION}",
                 c.budget_fraction >= GOAL_BUDGET_FRACTION),
                (f"{c.conn_id}: {c.answered_429} x 429 == 0", c.answered_429 == 0),
                (f"{c.conn_id}: max {c.max_in_1s} requests in 1 s <= budget {c.budget:g}", c.max_in_1s <= c.budget),
                (f"{c.conn_id}: {c.tokens_per_lifetime:.2f} token requests per lifetime ~ 1 "
                 f"(max {c.max_tokens_in_window} in any {0.8 * c.token_lifetime:.0f} s)", c.max_tokens_in_window <= 1),
            ]  # fmt: skip
        return goals

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["credentials"] = [
            {**asdict(c), "budget_fraction": c.budget_fraction, "tokens_per_lifetime": c.tokens_per_lifetime}
            for c in self.credentials
        ]
        data["rows"] = [
            {**asdict(r), "ok": r.ok, "wrong": [list(map(str, w)) for w in r.wrong[:20]]} for r in self.rows
        ]
        data["hosts"] = {host: dict(counts) for host, counts in self.hosts.items()}
        data["ok"] = self.ok
        return data


def run_cluster(
    spec: ClusterSpec,
    days: int,
    max_active_runs: int,
    timeout: float,
    keep: bool = False,
    meters: Sequence[Meter] | None = None,
    idle_seconds: float = 0.0,
) -> ClusterReport:
    """Deploy, backfill (``meters`` read around it, and first for ``idle_seconds`` of an idle cluster),
    measure, tear down; the report (``error`` set when something broke)."""
    meters = default_meters() if meters is None else meters
    window = Days.ending_yesterday(days, datetime.now(UTC))
    report = ClusterReport(
        spec={k: v for k, v in asdict(spec).items() if k != "accounts"}
        | {"accounts": [a.conn_id for a in spec.accounts]},
        days=[str(window.first.date()), str(window.last.date())],
        backfill=BackfillOutcome(),
    )
    started = time.monotonic()
    cluster = Cluster(spec, keep=keep)
    try:
        with cluster:
            if idle_seconds > 0:
                say(f"letting the cluster settle for {SETTLE_SECONDS:.0f} s")
                time.sleep(SETTLE_SECONDS)
                idle = _read_meters(cluster, meters, idle_seconds)
                report.idle_meters_per_second = {key: value / idle_seconds for key, value in idle.items()}
            for meter in meters:
                meter.start(cluster)
            report.load_average["start"] = _load()
            report.backfill = backfill(cluster, window, max_active_runs, timeout)
            report.load_average["end"] = _load()
            cluster.failed = not report.backfill.ok
            for meter in meters:
                report.meters.update(meter.stop(cluster))
            measure(cluster, report, window)
    except (ClusterError, ApiError, requests.RequestException) as error:
        report.error = f"{type(error).__name__}: {error}"
    report.timings = {**cluster.timings, "runs": report.backfill.seconds, "total": time.monotonic() - started}
    return report


def _read_meters(cluster: Cluster, meters: Sequence[Meter], seconds: float) -> dict[str, float]:
    say(f"measuring the idle cluster for {seconds:.0f} s")
    for meter in meters:
        meter.start(cluster)
    time.sleep(seconds)
    readings: dict[str, float] = {}
    for meter in meters:
        readings.update(meter.stop(cluster))
    return readings


def measure(cluster: Cluster, report: ClusterReport, window: Days) -> None:
    """Fill ``report`` from the running cluster: hosts (REST), traffic (emulator), rows (warehouse)."""
    spec = cluster.spec
    report.hosts = tasks_per_host(cluster.client, DAG_ID, list(report.backfill.run_states))
    for account in spec.accounts:
        report.credentials.append(
            credential_figures(cluster.emulator_url, account, spec.rate_per_second, spec.token_lifetime)
        )
        report.rows.append(check_rows(cluster.warehouse_url, cluster.emulator_url, account, *window.window))


def format_report(report: ClusterReport) -> str:
    """The human-readable summary."""
    spec = report.spec
    lines = [
        "",
        f"Cluster:   CeleryExecutor, {spec['workers']} workers x concurrency {spec['concurrency']}, "
        f"budget {spec['rate_per_second']:g} req/s per credential (emulator --credential-rate and "
        f"rate_limit_per_second), token lifetime {spec['token_lifetime']} s, pools {spec['pools'] or 'as shipped'}",
        f"Backfill:  {DAG_ID} {report.days[0]} .. {report.days[1]} for {', '.join(spec['accounts'])}: "
        + ", ".join(f"{n} {s}" for s, n in sorted(Counter(report.backfill.run_states.values()).items())),
    ]
    for host, counts in sorted(report.hosts.items()):
        detail = ", ".join(f"{task} {n}" for task, n in sorted(counts.items()))
        lines.append(f"Worker {host}: {sum(counts.values())} task instances ({detail})")
    for c in report.credentials:
        lines.append(
            f"{c.conn_id}: {c.api_requests} API requests in {c.span_seconds:.1f} s = {c.rate:.3f} req/s = "
            f"{c.budget_fraction:.3f} of budget {c.budget:g}; max {c.max_in_1s} in any 1 s; {c.answered_429} x 429; "
            f"idle {c.idle_seconds:.1f} s (longest gap {c.longest_gap_seconds:.1f} s); "
            f"{c.over_budget} arrived over budget (shortest gap {c.shortest_gap_seconds * 1000:.0f} ms); "
            f"{c.token_requests} token requests over {c.token_span_seconds:.0f} s, lifetime {c.token_lifetime} s: "
            f"{c.tokens_per_lifetime:.2f} per lifetime (gaps: min {_seconds(c.min_token_gap_seconds)}, "
            f"mean {_seconds(c.mean_token_gap_seconds)})"
        )
    for r in report.rows:
        verdict = (
            "exact" if r.ok else f"MISMATCH missing {r.missing[:5]} unexpected {r.unexpected[:5]} wrong {r.wrong[:3]}"
        )
        lines.append(
            f"Rows {r.conn_id}: {r.stored_items} items stored / {r.expected_items} changed in the window "
            f"(+ other items of their orders), {r.stored_orders} / {r.expected_orders} orders: {verdict}"
        )
    if report.credentials:
        lines.append(
            f"Load:      {sum(c.answered_429 for c in report.credentials)} answers of 429, busiest sliding second "
            f"{max(c.max_in_1s for c in report.credentials)} requests of a credential (budget "
            f"{spec['rate_per_second']:g}/s each), {sum(c.over_budget for c in report.credentials)} arrived over "
            "budget; counted on arrival at the emulator"
        )
    lines.append("During the backfill: " + ", ".join(f"{k} {v:,.1f}" for k, v in report.meters.items()))
    lines.append("Goals:     " + "; ".join(f"{'OK' if ok else 'MISS'} {text}" for text, ok in report.goals()))
    lines.append("Timings:   " + ", ".join(f"{k} {v:.0f} s" for k, v in report.timings.items()))
    loads = ", ".join(f"{when} {' '.join(map(str, values))}" for when, values in report.load_average.items())
    lines.append(f"Machine:   {os.cpu_count()} CPUs; load average (1/5/15 min) at backfill {loads}")
    if report.error:
        lines.append(f"ERROR: {report.error}")
    lines.append("CLUSTER OK" if report.ok else "CLUSTER FAILED")
    return "\n".join(lines)


def _load() -> list[float]:
    return [round(value, 1) for value in os.getloadavg()]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=5, help="Amsterdam days to backfill, ending yesterday")
    parser.add_argument("--rate", type=float, default=2.0, help="budget = emulator credential rate, req/s")
    parser.add_argument("--token-lifetime", type=int, default=60, help="emulator token lifetime, seconds")
    parser.add_argument("--orders-per-day", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-active-runs", type=int, default=5)
    parser.add_argument("--api-slots", type=int, help="bol_api pool (default: workers x concurrency)")
    parser.add_argument("--warehouse-slots", type=int, default=4, help="bol_warehouse pool (PostgreSQL allows more)")
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds to wait for the backfill")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) afterwards")
    args = parser.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    spec = ClusterSpec(
        workers=args.workers,
        concurrency=args.concurrency,
        rate_per_second=args.rate,
        token_lifetime=args.token_lifetime,
        orders_per_day=args.orders_per_day,
        pools={
            "bol_api": args.api_slots or args.workers * args.concurrency,
            "bol_warehouse": args.warehouse_slots,
        },
    )
    report = run_cluster(spec, args.days, args.max_active_runs, args.timeout, keep=args.keep)
    print(format_report(report), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
        say(f"wrote {args.json}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
