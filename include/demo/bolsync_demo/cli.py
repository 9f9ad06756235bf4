"""The bolsync demo: the bol Retailer API emulator plus Airflow standalone, driven over the REST API.

    python -m bolsync_demo run    one shot: start, backfill 3 days of orders + one run of every other stream DAG,
                                  summary, stop
    python -m bolsync_demo up     start and leave running (pid files in .run/); `make down` stops it
    python -m bolsync_demo down   stop what `up` started

Run it from the repository root (the Makefile does): AIRFLOW_HOME is ``.airflow/``, the warehouse
``data/warehouse.duckdb`` and the logs of the emulator and Airflow go to ``.run/``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import requests

from bolsync_demo.api import TERMINAL_STATES, AirflowClient, ApiError, emulator_get, iso
from bolsync_demo.procs import (
    TOKEN_VARIABLE,
    DemoError,
    free_port,
    is_alive,
    kill_leftovers,
    port_is_free,
    process_has_token,
    read_pid,
    run_command,
    start_process,
    stop_group,
    tail,
    write_pid,
)
from bolsync_demo.report import (
    WarehouseSummary,
    api_usage,
    format_summary,
    offer_truth,
    read_warehouse,
    task_log_errors,
)
from bolsync_demo.streams import RATE_SCALE, SINGLE_RUNS, scaled_limits

DAILY, HOURLY, OFFERS = "bol_orders_daily", "bol_orders_hourly", "bol_offers_daily"
DAGS = (DAILY, *SINGLE_RUNS)
ACCOUNTS = ("bol_retailer_default", "bol_retailer_shop_b")
DEMO_CREDENTIALS = {
    "bol_retailer_default": ("demo-client-a", "demo-secret-a"),
    "bol_retailer_shop_b": ("demo-client-b", "demo-secret-b"),
}
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105 - the local demo's documented login
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
BACKFILL_DAYS = 3
#: How long `make run` waits for its runs (seconds; every stream of two accounts on a busy 2-core machine).
RUN_TIMEOUT = float(os.environ.get("BOLSYNC_DEMO_TIMEOUT", "900"))
START_TIMEOUT = 180.0
POLL_SECONDS = 5.0
#: First poll of the offer export's process status after this many seconds (the DAG's default is 5, doubling).
OFFERS_POLL_SECONDS = 2
_T0 = time.monotonic()


def say(message: str) -> None:
    """Print a progress line with the seconds since the demo started."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo keeps its state, all inside the repository."""

    repo: Path

    @property
    def airflow_home(self) -> Path:
        return self.repo / ".airflow"

    @property
    def run_dir(self) -> Path:
        return self.repo / ".run"

    @property
    def warehouse(self) -> Path:
        return self.repo / "data" / "warehouse.duckdb"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "demo.json"

    def pid_file(self, name: str) -> Path:
        """``.run/<name>.pid``."""
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        """``.run/<name>.log``."""
        return self.run_dir / f"{name}.log"


@dataclass
class Stack:
    """The processes of one demo: the emulator and ``airflow standalone``."""

    paths: DemoPaths
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    emulator_port: int = 0
    api_port: int = 0
    emulator: subprocess.Popen[bytes] | None = None
    airflow: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


# ---------------------------------------------------------------- environment


def fernet_key(paths: DemoPaths) -> str:
    """The demo's Fernet key, generated once into ``.airflow/fernet.key``."""
    key_file = paths.airflow_home / "fernet.key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_bytes(Fernet.generate_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def jwt_secret(paths: DemoPaths) -> str:
    """A long random JWT signing secret shared by all Airflow components, generated once."""
    secret_file = paths.airflow_home / "jwt.secret"
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secrets.token_urlsafe(64))
        secret_file.chmod(0o600)
    return secret_file.read_text().strip()


def write_admin_password(paths: DemoPaths) -> None:
    """Give the simple auth manager's ``admin`` user the known password ``admin``.

    Airflow 3.3 reads passwords from ``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``
    and only generates one for users missing from that file.
    """
    password_file = paths.airflow_home / "simple_auth_manager_passwords.json.generated"
    passwords: dict[str, str] = {}
    with suppress(OSError, ValueError):
        passwords = dict(json.loads(password_file.read_text() or "{}"))
    passwords[ADMIN_USER] = ADMIN_PASSWORD
    password_file.write_text(json.dumps(passwords) + "\n")


def retailer_connection(conn_id: str, emulator_url: str) -> str:
    """A ``bol_retailer`` connection to the emulator, as JSON for an ``AIRFLOW_CONN_*`` variable."""
    client_id, secret = DEMO_CREDENTIALS[conn_id]
    return json.dumps(
        {
            "conn_type": "bol_retailer",
            "login": client_id,
            "password": secret,
            "extra": {
                "api_url": emulator_url,
                "login_url": f"{emulator_url}/token",
                "endpoint_rate_limits": scaled_limits(),
            },
        }
    )


def airflow_env(stack: Stack) -> dict[str, str]:
    """The environment of every Airflow process of the demo (and of the emulator)."""
    paths = stack.paths
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        TOKEN_VARIABLE: stack.token,
        "AIRFLOW_HOME": str(paths.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.repo / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(paths.repo / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": fernet_key(paths),
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret(paths),
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{stack.api_url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(stack.api_port),
        "AIRFLOW__API__WORKERS": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW_CONN_BOL_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(paths.warehouse)}),
        "AIRFLOW_VAR_BOLSYNC_ACCOUNTS": json.dumps(list(ACCOUNTS)),
        # The API server and a user that may edit DAG runs: the backfill plan and the coverage check write
        # their result into the run's note through it.
        "AIRFLOW_CONN_BOLSYNC_AIRFLOW_API": json.dumps(
            {"conn_type": "http", "host": stack.api_url, "login": ADMIN_USER, "password": ADMIN_PASSWORD}
        ),
        "AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS": str(OFFERS_POLL_SECONDS),
    }
    for conn_id in ACCOUNTS:
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = retailer_connection(conn_id, stack.emulator_url)
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)  # the demo always uses .airflow/airflow.db
    return env


# ---------------------------------------------------------------- start


def wait_until(check: Callable[[], bool], timeout: float, what: str, alive: Callable[[], None]) -> None:
    """Poll ``check`` (calling ``alive`` to fail fast if a process died) until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        with suppress(requests.RequestException, ApiError):
            if check():
                return
        time.sleep(1)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


def ensure_not_running(paths: DemoPaths) -> None:
    """Refuse to start a second demo on the same AIRFLOW_HOME."""
    state = read_state(paths)
    for name in ("airflow", "emulator"):
        pid = read_pid(paths.pid_file(name))
        if pid and state and process_has_token(pid, state.get("token", "")):
            raise DemoError(
                f"the demo started by `make up` is still running ({name} pid {pid}); stop it with `make down` first."
            )


def start_emulator(stack: Stack) -> None:
    """Start ``python -m bol_emulator`` with the demo accounts and wait for its health endpoint.

    ``--accounts demo`` (the default) gives both demo accounts 30 days of orders and 60 offers each; the
    offer export answers PENDING twice, then SUCCESS (the emulator's default), so the offers run defers.
    """
    log = stack.paths.log_file("emulator")
    log.write_text("")
    command = [
        sys.executable,
        "-m",
        "bol_emulator",
        "--port",
        str(stack.emulator_port),
        "--history-days",
        "30",
        "--rate-scale",
        f"{RATE_SCALE:g}",
    ]
    stack.emulator = start_process(command, stack.env, log, stack.paths.repo)
    say(f"emulator starting on {stack.emulator_url} (pid {stack.emulator.pid}, log {log})")

    def healthy() -> bool:
        return emulator_get(stack.emulator_url, "/_emulator/health").get("status") == "ok"

    wait_until(healthy, 30, "the emulator's /_emulator/health", lambda: check_alive(stack.emulator, "emulator", log))
    say("emulator healthy")


def check_alive(process: subprocess.Popen[bytes] | None, name: str, log: Path) -> None:
    """Raise DemoError with the log's tail if ``process`` has exited."""
    if process is not None and process.poll() is not None:
        raise DemoError(f"{name} exited with code {process.returncode}. Last 40 lines of {log}:\n{tail(log)}")


#: The pools the DAGs use, as shipped for every deployment (``airflow pools import``).
POOLS_FILE = Path("include") / "airflow" / "pools.json"


def prepare_airflow(stack: Stack) -> None:
    """``airflow db migrate`` and the two pools, before the scheduler starts."""
    log = stack.paths.log_file("airflow-setup")
    log.write_text("")
    say("airflow db migrate")
    run_command(["airflow", "db", "migrate"], stack.env, log, stack.paths.repo, "airflow db migrate")
    pools_file = stack.paths.repo / POOLS_FILE
    say(f"airflow pools import {POOLS_FILE}")
    run_command(
        ["airflow", "pools", "import", str(pools_file)],
        stack.env,
        log,
        stack.paths.repo,
        "airflow pools import",
    )


def start_airflow(stack: Stack) -> AirflowClient:
    """Start ``airflow standalone``; wait until it is healthy and has parsed the DAGs; return a client."""
    if not port_is_free(stack.api_port):
        raise DemoError(f"port {stack.api_port} is busy; cannot start the Airflow API server there.")
    log = stack.paths.log_file("airflow")
    log.write_text("")
    stack.airflow = start_process(["airflow", "standalone"], stack.env, log, stack.paths.repo)
    say(f"airflow standalone starting (pid {stack.airflow.pid}, log {log})")
    client = AirflowClient(stack.api_url)

    def alive() -> None:
        check_alive(stack.airflow, "airflow standalone", log)

    try:
        wait_until(
            lambda: _healthy(client),
            START_TIMEOUT,
            f"Airflow at {stack.api_url}/api/v2/monitor/health",
            alive,
        )
        say(f"airflow healthy at {stack.api_url}")
        # The Execution API builds its routes on its first request; made by the first tasks on a busy machine,
        # that wait can outlast their timeout (the tries then fail before they start and wait for a retry).
        wait_until(lambda: _execution_api_ready(stack), START_TIMEOUT, f"{stack.api_url}/execution/health", alive)
        client.login(ADMIN_USER, ADMIN_PASSWORD)
        wait_until(lambda: _dags_parsed(client), START_TIMEOUT, f"the DAGs {', '.join(DAGS)} to be parsed", alive)
    except DemoError as error:
        if "Last 40 lines" in str(error):
            raise
        raise DemoError(f"{error}. Last 40 lines of {log}:\n{tail(log)}") from error
    say("DAGs parsed: " + ", ".join(DAGS))
    return client


HEALTH_PARTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")


def _execution_api_ready(stack: Stack) -> bool:
    try:
        return requests.get(f"{stack.api_url}/execution/health", timeout=60).ok
    except requests.RequestException:
        return False


def _healthy(client: AirflowClient) -> bool:
    """Every component the demo needs reports healthy (the triggerer runs the offer export's deferred wait)."""
    health = client.health()
    return all((health.get(part) or {}).get("status") == "healthy" for part in HEALTH_PARTS)


def _dags_parsed(client: AirflowClient) -> bool:
    if all(client.dag(dag_id) for dag_id in DAGS):
        return True
    errors = [e for e in client.import_errors() if any(d in str(e.get("filename", "")) for d in DAGS)]
    if errors:
        details = "\n".join(f"{e.get('filename')}:\n{e.get('stack_trace', '')[-1500:]}" for e in errors)
        raise DemoError(f"the DAG files have import errors:\n{details}")
    return False


def remove_stale_staging(paths: DemoPaths) -> None:
    """Drop staging files left by task tries of an earlier Airflow (no task of this demo runs yet).

    Each start of the emulator generates its world afresh; files staged against an earlier one must
    not be loaded by a rerun of the same run id.
    """
    staging = paths.warehouse.parent / "staging"
    if staging.is_dir() and any(staging.iterdir()):
        say(f"removing stale staging files in {staging}")
        shutil.rmtree(staging)


def start_stack(stack: Stack) -> AirflowClient:
    """Everything up to a healthy Airflow with parsed DAGs."""
    paths = stack.paths
    ensure_not_running(paths)
    for folder in (paths.run_dir, paths.airflow_home, paths.warehouse.parent):
        folder.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(paths)
    stack.api_port = free_port(8080)
    if stack.api_port != 8080:
        say(f"port 8080 is busy; the Airflow API server will use port {stack.api_port}")
    stack.emulator_port = free_port()
    stack.env = airflow_env(stack)
    write_admin_password(paths)
    start_emulator(stack)
    prepare_airflow(stack)
    return start_airflow(stack)


def stop_airflow(pid: int, child: subprocess.Popen[bytes] | None) -> None:
    """SIGINT to ``airflow standalone`` itself, which stops its components; SIGTERM/SIGKILL to the group after 30 s.

    Not SIGINT to the whole group: in Airflow 3.3.2 that leaves the scheduler waiting forever for its
    LocalExecutor workers (seen here: stuck > 90 s every time, versus 4-13 s via standalone).
    """
    stop_group(pid, "Airflow", signal.SIGINT, 30, child, say, leader_only=True)


def stop_stack(stack: Stack) -> None:
    """Stop Airflow (SIGINT to its process group, then harder), the emulator, and any leftover of ours."""
    if stack.airflow is not None and stack.airflow.poll() is None:
        say("stopping Airflow (SIGINT to airflow standalone; up to 30 s)")
        stop_airflow(stack.airflow.pid, stack.airflow)
    if stack.emulator is not None and stack.emulator.poll() is None:
        stop_group(stack.emulator.pid, "emulator", signal.SIGTERM, 10, stack.emulator, say)
    leftovers = kill_leftovers(stack.token, say)
    if not leftovers:
        say("no demo processes left running")


# ---------------------------------------------------------------- run


@dataclass
class Plan:
    """The runs the one-shot demo asked for."""

    started: datetime
    backfill_from: datetime
    backfill_to: datetime
    hourly_start: datetime
    hourly_end: datetime
    offers_start: datetime
    offers_end: datetime
    targets: set[tuple[str, str]] = field(default_factory=set)

    def windows(self) -> dict[str, tuple[datetime, datetime]]:
        """The single-run DAGs and their [start, end) data intervals (``streams.SINGLE_RUNS``)."""
        return {dag_id: run.window(self.started) for dag_id, run in SINGLE_RUNS.items()}


def make_plan(now: datetime) -> Plan:
    """The last 3 full Amsterdam days, the previous full UTC hour, and yesterday's offers (Amsterdam).

    The offers run gets the interval the nightly schedule ran last: yesterday 00:00 to today 00:00 in
    Amsterdam, so its snapshot is dated yesterday and it ended less than a day ago (an older window would
    change nothing: bol keeps no offer history).
    """
    today = now.astimezone(AMSTERDAM).date()
    first = datetime.combine(today - timedelta(days=BACKFILL_DAYS), datetime.min.time(), AMSTERDAM)
    last = datetime.combine(today - timedelta(days=1), datetime.min.time(), AMSTERDAM)
    hourly, offers = SINGLE_RUNS[HOURLY].window(now), SINGLE_RUNS[OFFERS].window(now)
    return Plan(now, first, last, *hourly, *offers)


def request_runs(client: AirflowClient, plan: Plan) -> None:
    """Pause the DAGs, create the backfill and the single runs, then unpause (no duplicate runs)."""
    for dag_id in DAGS:
        client.set_paused(dag_id, True)
    fail_leftover_runs(client, plan)
    create_backfill(client, plan)
    for dag_id in plan.windows():
        trigger_window(client, plan, dag_id)
    for dag_id in DAGS:
        client.set_paused(dag_id, False)
    say(f"unpaused {', '.join(DAGS)}")


def fail_leftover_runs(client: AirflowClient, plan: Plan) -> None:
    """Mark failed the unfinished runs of the demo's windows left by an interrupted earlier Airflow.

    Their task tries died with that Airflow and would wait out retry delays; failed, the backfill
    (reprocess "completed") and the reruns of the single runs clear them and start them afresh.
    """
    runs = client.dag_runs(DAILY, logical_date_gte=iso(plan.backfill_from), logical_date_lte=iso(plan.backfill_to))
    for dag_id, (start, _end) in plan.windows().items():
        runs += client.dag_runs(dag_id, logical_date_gte=iso(start), logical_date_lte=iso(start))
    for run in runs:
        if run["state"] not in TERMINAL_STATES:
            say(f"marking {run['dag_id']} {run['dag_run_id']} ({run['state']}, left by an earlier demo) failed")
            client.fail_run(run["dag_id"], run["dag_run_id"], "interrupted demo run; rerun by make run")


def create_backfill(client: AirflowClient, plan: Plan) -> None:
    """Backfill bol_orders_daily over the last 3 full Europe/Amsterdam days (logical dates = day starts)."""
    body = {
        "dag_id": DAILY,
        "from_date": iso(plan.backfill_from),
        "to_date": iso(plan.backfill_to),
        "reprocess_behavior": "completed",
        "max_active_runs": 3,
        "run_backwards": False,
        "dag_run_conf": {},
    }
    try:
        backfill = client.create_backfill(body)
    except ApiError as error:
        if error.status_code != 409:
            raise
        for active in client.active_backfills(DAILY):
            say(f"cancelling the unfinished backfill {active['id']} of {DAILY} left by an earlier demo")
            client.cancel_backfill(int(active["id"]))
        backfill = client.create_backfill(body)
    runs = client.dag_runs(DAILY, logical_date_gte=iso(plan.backfill_from), logical_date_lte=iso(plan.backfill_to))
    plan.targets.update((DAILY, run["dag_run_id"]) for run in runs)
    say(
        f"backfill {backfill.get('id')} of {DAILY}: {plan.backfill_from.date()} .. {plan.backfill_to.date()} "
        f"(Amsterdam days), {len(runs)} runs"
    )


def trigger_window(client: AirflowClient, plan: Plan, dag_id: str) -> None:
    """One run of ``dag_id`` for its window in the plan (the last full interval of its schedule, e.g.
    bol_orders_hourly: the previous full UTC hour; bol_offers_daily: yesterday in Amsterdam) with its conf in
    ``streams.SINGLE_RUNS``; an existing run of that window is cleared and rerun.

    A manual run's data interval in Airflow 3.3 is ``timetable.infer_manual_data_interval(logical_date)``,
    which for CronDataIntervalTimetable is the last full interval *before* the logical date: logical date
    09:00 would give 08:00-09:00. So the run gets its window explicitly (data_interval_start/end) and the
    logical date of a scheduled run of that window (its start); the scheduler then creates no run of its own
    for that interval when the DAG is unpaused.
    """
    start, end = plan.windows()[dag_id]
    body = {
        "logical_date": iso(start),
        "data_interval_start": iso(start),
        "data_interval_end": iso(end),
        "conf": SINGLE_RUNS[dag_id].conf(plan.started),
    }
    window = f"{start:%Y-%m-%d %H:%M %Z} .. {end:%Y-%m-%d %H:%M %Z}"
    try:
        run = client.trigger(dag_id, body)
        say(f"triggered {dag_id} for {window}: {run['dag_run_id']}")
    except ApiError as error:
        if error.status_code != 409:
            raise
        run = _rerun_existing(client, dag_id, start)
        say(f"{dag_id} for {window}: rerunning the existing run {run['dag_run_id']}")
    plan.targets.add((dag_id, run["dag_run_id"]))


def _rerun_existing(client: AirflowClient, dag_id: str, logical_date: datetime) -> dict[str, Any]:
    runs = client.dag_runs(dag_id, logical_date_gte=iso(logical_date), logical_date_lte=iso(logical_date))
    if not runs:
        raise DemoError(f"{dag_id} refused the run for {logical_date} and no such run exists")
    run = runs[0]
    if run["state"] in TERMINAL_STATES:
        client.clear_run(dag_id, run["dag_run_id"])
    return run


def tracked_runs(client: AirflowClient, plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """The runs the demo asked for plus any run queued since the demo started (e.g. by the scheduler)."""
    since = plan.started - timedelta(seconds=5)
    tracked: dict[str, list[dict[str, Any]]] = {}
    for dag_id in DAGS:
        tracked[dag_id] = [
            run
            for run in client.dag_runs(dag_id)
            if (dag_id, run["dag_run_id"]) in plan.targets
            or (run.get("queued_at") and datetime.fromisoformat(run["queued_at"]) >= since)
        ]
    return tracked


FAILED_TRY_STATES = ("failed", "up_for_retry")


@dataclass
class RunWatcher:
    """Polls the demo's runs, prints progress and the error of every failed task try as soon as it is seen."""

    client: AirflowClient
    plan: Plan
    log_root: Path
    reported: set[tuple[str, str, str, int, int]] = field(default_factory=set)
    finished_runs: set[tuple[str, str]] = field(default_factory=set)

    def wait(self, timeout: float) -> tuple[dict[str, list[dict[str, Any]]], bool]:
        """Poll until every tracked run is success/failed; return the runs and whether they all finished."""
        deadline = time.monotonic() + timeout
        last_line, last_print = "", 0.0
        runs: dict[str, list[dict[str, Any]]] = {}
        while True:
            try:
                runs = tracked_runs(self.client, self.plan)
                line = " | ".join(self._progress(dag_id, dag_runs) for dag_id, dag_runs in runs.items())
            except (requests.RequestException, ApiError) as error:
                if time.monotonic() > deadline:
                    say(f"timed out after {timeout:.0f}s; the Airflow API is not answering: {error}")
                    return runs, False
                say(f"(the Airflow API did not answer this poll: {error}; trying again)")
                time.sleep(POLL_SECONDS)
                continue
            if line != last_line or time.monotonic() - last_print > 60:
                say(line)
                last_line, last_print = line, time.monotonic()
            if all(r["state"] in TERMINAL_STATES for dag_runs in runs.values() for r in dag_runs):
                return runs, True
            if time.monotonic() > deadline:
                say(f"timed out after {timeout:.0f}s with runs still queued or running")
                return runs, False
            time.sleep(POLL_SECONDS)

    def _progress(self, dag_id: str, dag_runs: list[dict[str, Any]]) -> str:
        """'dag: 2 running, 1 success [extract: 3 running, ...]', reporting newly failed tries on the way."""
        runs_text = ", ".join(f"{n} {s}" for s, n in sorted(Counter(r["state"] for r in dag_runs).items()))
        tasks: Counter[str] = Counter()
        for run in dag_runs:
            if run["state"] in TERMINAL_STATES and (dag_id, run["dag_run_id"]) in self.finished_runs:
                continue
            for ti in self.client.task_instances(dag_id, run["dag_run_id"]):
                tasks[f"{ti['task_id']} {ti.get('state') or 'none'}"] += 1
                self.report(dag_id, run["dag_run_id"], ti)
            if run["state"] in TERMINAL_STATES:
                self.finished_runs.add((dag_id, run["dag_run_id"]))
        detail = ", ".join(f"{n} {k}" for k, n in sorted(tasks.items()))
        return f"{dag_id}: {runs_text or 'no runs'}" + (f" [tasks: {detail}]" if detail else "")

    def report(self, dag_id: str, run_id: str, ti: dict[str, Any]) -> None:
        """Print a failed try once: which task, which try, and the error lines of its log."""
        if ti.get("state") not in FAILED_TRY_STATES:
            return
        map_index, try_number = int(ti.get("map_index", -1)), int(ti.get("try_number") or 0)
        key = (dag_id, run_id, ti["task_id"], map_index, try_number)
        if key in self.reported:
            return
        self.reported.add(key)
        label = f"{ti['task_id']}[{map_index}]" if map_index >= 0 else ti["task_id"]
        say(f"TASK TRY FAILED ({ti['state']}): {dag_id} {run_id} {label} try {try_number}")
        for line in task_log_errors(self.log_root, dag_id, run_id, ti["task_id"], map_index):
            print(f"      {line}", flush=True)

    def report_unfinished(self, runs: dict[str, list[dict[str, Any]]]) -> None:
        """After the wait: report the failed tries of every run that did not succeed, not yet printed."""
        for dag_id, dag_runs in runs.items():
            for run in dag_runs:
                if run["state"] != "success":
                    for ti in self.client.task_instances(dag_id, run["dag_run_id"]):
                        self.report(dag_id, run["dag_run_id"], ti)


def run_demo(paths: DemoPaths) -> int:
    """``make run``: the whole one-shot demo; always stops what it started."""
    stack = Stack(paths)
    timings: dict[str, float] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    finished = False
    stats: dict[str, Any] | None = None
    stats_error: str | None = None
    truth: dict[str, list[dict[str, Any]]] | None = None
    plan = make_plan(datetime.now(UTC))
    try:
        with _phase(timings, "start (emulator + Airflow)"):
            client = start_stack(stack)
        with _phase(timings, "DAG runs"):
            request_runs(client, plan)
            watcher = RunWatcher(client, plan, paths.airflow_home / "logs")
            runs, finished = watcher.wait(RUN_TIMEOUT)
        with suppress(requests.RequestException, ApiError):
            watcher.report_unfinished(runs)
        for dag_id in DAGS:
            with suppress(requests.RequestException, ApiError):
                client.set_paused(dag_id, True)
        try:
            stats = emulator_get(stack.emulator_url, "/_emulator/stats")
        except requests.RequestException as error:
            stats_error = str(error)
        with suppress(requests.RequestException):
            truth = offer_truth(stack.emulator_url)
    finally:
        with _phase(timings, "stop"), _signals_ignored():
            stop_stack(stack)
    timings["total"] = time.monotonic() - _T0
    warehouse = read_warehouse(paths.warehouse, plan.started, truth)
    print(format_summary(runs, warehouse, api_usage(stats, stats_error), timings, _python()))
    return _exit_code(runs, finished, warehouse)


def _exit_code(runs: dict[str, list[dict[str, Any]]], finished: bool, warehouse: WarehouseSummary) -> int:
    """0 when every run succeeded and orders and offers landed (offers as the emulator has them), else 1."""
    failed = [f"{d} {r['dag_run_id']}" for d, dag_runs in runs.items() for r in dag_runs if r["state"] != "success"]
    missing = [dag_id for dag_id in DAGS if not runs.get(dag_id)]
    problems = []
    if not finished:
        problems.append("some DAG runs did not finish in time")
    if failed:
        problems.append(f"{len(failed)} DAG run(s) did not succeed ({', '.join(failed)})")
    if missing:
        problems.append(f"no run of {', '.join(missing)}")
    if not warehouse.orders:
        problems.append("the warehouse has no orders")
    if not warehouse.live_offers:
        problems.append("the warehouse has no live offers")
    mismatched = [check.retailer_id for check in warehouse.offer_checks if not check.ok]
    if mismatched:
        problems.append(f"offers differ from the emulator's ground truth (retailer {', '.join(mismatched)})")
    if problems:
        print("DEMO FAILED: " + "; ".join(problems), flush=True)
        return 1
    print("DEMO OK", flush=True)
    return 0


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Let a cleanup finish even if the user presses Ctrl-C again."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _phase(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - started


def _python() -> str:
    executable = Path(sys.executable)
    with suppress(ValueError):
        return str(executable.relative_to(Path.cwd()))
    return str(executable)


# ---------------------------------------------------------------- up / down


def read_state(paths: DemoPaths) -> dict[str, Any]:
    """What `up` recorded in ``.run/demo.json`` (empty if nothing)."""
    try:
        state: dict[str, Any] = json.loads(paths.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return state


def up(paths: DemoPaths) -> int:
    """``make up``: start everything, unpause the DAGs, record pid files and leave it all running."""
    stack = Stack(paths)
    try:
        client = start_stack(stack)
        for dag_id in DAGS:
            client.set_paused(dag_id, False)
    except BaseException:
        with _signals_ignored():
            stop_stack(stack)
        raise
    assert stack.airflow is not None
    assert stack.emulator is not None
    write_pid(paths.pid_file("airflow"), stack.airflow.pid)
    write_pid(paths.pid_file("emulator"), stack.emulator.pid)
    paths.state_file.write_text(
        json.dumps(
            {
                "token": stack.token,
                "api_url": stack.api_url,
                "emulator_url": stack.emulator_url,
                "airflow_pid": stack.airflow.pid,
                "emulator_pid": stack.emulator.pid,
            },
            indent=2,
        )
    )
    print(_up_banner(stack), flush=True)
    return 0


def _up_banner(stack: Stack) -> str:
    today = datetime.now(AMSTERDAM).date()
    week_ago, yesterday = (datetime.combine(today - timedelta(days=n), datetime.min.time(), AMSTERDAM) for n in (7, 1))
    body = json.dumps(
        {
            "dag_id": DAILY,
            "from_date": iso(week_ago),
            "to_date": iso(yesterday),
            "reprocess_behavior": "completed",
            "max_active_runs": 3,
        }
    )
    get_token = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"  # noqa: S105
    logs = stack.paths.run_dir
    return f"""
bolsync demo is running (the DAGs {", ".join(DAGS)} unpaused).
  Airflow UI:  {stack.api_url}   login: admin / admin
  Emulator:    {stack.emulator_url}   (counters: {stack.emulator_url}/_emulator/stats)
  Warehouse:   {stack.paths.warehouse}
  Logs:        {logs}/airflow.log, {logs}/emulator.log, task logs in {stack.paths.airflow_home / "logs"}
Backfill history: in the UI open {DAILY} -> Trigger -> Backfill, pick a date range
(bol serves 3 months of history), reprocess behaviour and max active runs. Or with the REST API:
  TOKEN=$(curl -s -X POST {stack.api_url}/auth/token -H 'Content-Type: application/json' \\
      -d '{{"username": "admin", "password": "admin"}}' | {get_token})
  curl -s -X POST {stack.api_url}/api/v2/backfills -H "Authorization: Bearer $TOKEN" \\
      -H 'Content-Type: application/json' -d '{body}'
Stop everything with: make down
"""


def down(paths: DemoPaths) -> int:
    """``make down``: stop the processes `up` recorded (only while they are ours); remove the pid files."""
    state = read_state(paths)
    token = str(state.get("token", ""))
    stopped = False
    for name in ("airflow", "emulator"):
        pid = read_pid(paths.pid_file(name))
        if pid and token and process_has_token(pid, token):
            say(f"stopping {name} (pid {pid})")
            if name == "airflow":
                stop_airflow(pid, None)
            else:
                stop_group(pid, name, signal.SIGTERM, 10, None, say)
            stopped = True
        elif pid and is_alive(pid):
            say(f"pid {pid} in {paths.pid_file(name)} is not a process of this demo; leaving it alone")
    if token:
        stopped = bool(kill_leftovers(token, say)) or stopped
    for leftover in (paths.pid_file("airflow"), paths.pid_file("emulator"), paths.state_file):
        leftover.unlink(missing_ok=True)
    say("demo stopped" if stopped else "nothing was running")
    return 0


# ---------------------------------------------------------------- main


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bolsync_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "up", "down"))
    args = parser.parse_args(argv)
    paths = DemoPaths(Path.cwd().resolve())
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    commands = {"run": run_demo, "up": up, "down": down}
    try:
        return commands[args.command](paths)
    except (DemoError, ApiError, requests.RequestException) as error:
        print(f"\nERROR: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"\nInterrupted ({str(interrupt) or 'Ctrl-C'}); stopped what the demo had started.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
