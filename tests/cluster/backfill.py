"""Backfilling ``bol_orders_daily`` on a running cluster over the REST API and waiting for its runs."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bolsync_demo.api import TERMINAL_STATES, iso
from bolsync_demo.procs import tail
from bolsync_demo.report import task_log_errors
from tests.cluster.stack import Cluster, ClusterError, say

DAG_ID = "bol_orders_daily"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
POLL_SECONDS = 5.0
#: Task instances (for failed tries) are listed every this many polls: the polling is kept light, as it
#: loads the API server whose CPU is measured.
TASK_POLL_EVERY = 4
FAILED_TRY_STATES = ("failed", "up_for_retry", "upstream_failed")


@dataclass(frozen=True)
class Days:
    """Complete Amsterdam days ``first`` .. ``last`` (logical dates = day starts), ending yesterday."""

    first: datetime
    last: datetime

    @classmethod
    def ending_yesterday(cls, count: int, now: datetime) -> Days:
        today = now.astimezone(AMSTERDAM).date()
        first, last = (datetime.combine(today - timedelta(days=n), datetime.min.time(), AMSTERDAM) for n in (count, 1))
        return cls(first, last)

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The [start, end) of latest-change times the runs sync."""
        return self.first, _midnight_after(self.last)

    def each(self) -> list[tuple[datetime, datetime]]:
        """Every day's [start, end), in order."""
        days, day = [], self.first
        while day <= self.last:
            days.append((day, _midnight_after(day)))
            day = days[-1][1]
        return days


def _midnight_after(day: datetime) -> datetime:
    return datetime.combine(day.date() + timedelta(days=1), datetime.min.time(), AMSTERDAM)


@dataclass
class BackfillOutcome:
    run_states: dict[str, str] = field(default_factory=dict)
    finished: bool = False
    failed_tries: list[str] = field(default_factory=list)
    #: From the backfill's creation to the end of its last run (the runs' own end dates).
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.finished and bool(self.run_states) and set(self.run_states.values()) == {"success"}


def backfill(cluster: Cluster, days: Days, max_active_runs: int, timeout: float) -> BackfillOutcome:
    """Create the backfill, unpause the DAG, wait until every run is done; stop at the first failed try."""
    client = cluster.client
    started = time.monotonic()
    body = {
        "dag_id": DAG_ID,
        "from_date": iso(days.first),
        "to_date": iso(days.last),
        "reprocess_behavior": "completed",
        "max_active_runs": max_active_runs,
        "run_backwards": False,
        "dag_run_conf": {},
    }
    posted = time.time()
    created = client.create_backfill(body)
    client.set_paused(DAG_ID, False)
    say(f"backfill {created.get('id')} of {DAG_ID}: {days.first.date()} .. {days.last.date()} (Amsterdam days)")
    outcome = BackfillOutcome()
    deadline = started + timeout
    last_line = ""
    polls = 0
    while True:
        polls += 1
        cluster.check_alive()
        runs = client.dag_runs(DAG_ID, logical_date_gte=iso(days.first), logical_date_lte=iso(days.last))
        outcome.run_states = {run["dag_run_id"]: run["state"] for run in runs}
        line = ", ".join(f"{n} {state}" for state, n in sorted(Counter(outcome.run_states.values()).items()))
        if line != last_line:
            say(f"{DAG_ID} runs: {line}")
            last_line = line
        if runs and all(state in TERMINAL_STATES for state in outcome.run_states.values()):
            outcome.finished = True
            ends = [datetime.fromisoformat(run["end_date"]).timestamp() for run in runs if run.get("end_date")]
            outcome.seconds = max(ends) - posted if len(ends) == len(runs) else 0.0
            break
        if polls % TASK_POLL_EVERY == 0:
            outcome.failed_tries = _failed_tries(cluster, [r["dag_run_id"] for r in runs if r["state"] != "success"])
        if outcome.failed_tries or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    client.set_paused(DAG_ID, True)
    outcome.seconds = outcome.seconds or time.monotonic() - started
    if not outcome.finished and not outcome.failed_tries:
        say(f"timed out after {timeout:.0f}s with runs unfinished")
    return outcome


def _failed_tries(cluster: Cluster, run_ids: list[str]) -> list[str]:
    failed = []
    for run_id in run_ids:
        for ti in cluster.client.task_instances(DAG_ID, run_id):
            if ti.get("state") in FAILED_TRY_STATES:
                failed.append(_describe(cluster, run_id, ti))
    for text in failed:
        say(f"FAILED TRY: {text}")
    return failed


def _describe(cluster: Cluster, run_id: str, ti: dict[str, Any]) -> str:
    map_index = int(ti.get("map_index", -1))
    errors = task_log_errors(cluster.airflow_home / "logs", DAG_ID, run_id, ti["task_id"], map_index)
    if len(errors) < 2:  # no error record: the end of the log says what happened
        errors += [line[:400] for line in tail(Path(errors[0].removeprefix("log: ")), 8).splitlines()]
    return f"{run_id} {ti['task_id']}[{map_index}] {ti['state']} on {ti.get('hostname')}: " + " | ".join(errors)


def require(outcome: BackfillOutcome) -> None:
    """Raise ClusterError unless every run succeeded."""
    if not outcome.ok:
        raise ClusterError(f"backfill did not succeed: runs {outcome.run_states}; failed tries {outcome.failed_tries}")
