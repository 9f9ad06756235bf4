"""End-to-end check of docker-compose.yaml on a real Docker engine, from nothing to PASS/FAIL.

    .venv/bin/python -m tests.compose.compose_check [--keep] [--workers 2] [--timeout 900]

Phases (each timed):

1. engine      tests/compose/docker_engine.sh: installs and starts a private dockerd if none answers.
2. bases       tests/compose/images.sh: the registry-free stand-ins of apache/airflow, postgres and redis
               (skipped per image while its recipe is unchanged).
3. image       the project image from the Dockerfile on the Airflow stand-in (BASE_IMAGE), built from a
               temporary copy of the working tree (tracked and untracked, not ignored files) plus the host's
               CA bundle as .pip-ca.crt, so nothing is written into the repository.
4. up          a throwaway .env (tests/compose/make_env.sh --demo, fixed emulator anchor) in a temporary
               folder, a unique compose project, `up -d --profile demo --scale airflow-worker=N`, then every
               container healthy (airflow-init exited 0) and the DAGs parsed.
5. runs        REST login (POST /auth/token), unpause bol_orders_daily and bol_offers_daily, trigger each
               for yesterday (Europe/Amsterdam; a run the scheduler created for it on unpause is adopted),
               wait for success.
6. verify      the PostgreSQL warehouse against the emulator's ground truth: yesterday's order items
               (every one, with its state) and their orders, every live offer; the tasks ran on every
               worker (task instance hostnames); pools from include/airflow/pools.json; the cached token
               Variables exist and are encrypted at rest.
7. restart     `down` (volumes kept) and `up` again: the same warehouse rows, pools and token Variables.
8. rerun       the same two runs cleared and run again: success, and no warehouse row changed.
9. teardown    `down -v` (unless --keep), temporary files removed.

Prints the time of every phase, the total and a final PASS or FAIL; exits 1 on failure. The emulator runs
with --anchor (the moment of this check), so the restarted emulator serves the same world and a rerun has
nothing to change. The stack is torn down on failure too (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tests.support.ground_truth import ITEM_COLUMNS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DAGS = ("bol_orders_daily", "bol_offers_daily")
IMAGE = "bolsync:compose-check"
AIRFLOW_STANDIN = "local/airflow-standin:3.3.2-python3.11"
POSTGRES_STANDIN = "local/postgres-standin:15"
REDIS_STANDIN = "local/redis-standin:7.0"
#: The demo accounts of make_env.sh --demo: connection id -> emulator client id.
ACCOUNTS = {"bol_retailer_default": "demo-client-a", "bol_retailer_shop_b": "demo-client-b"}
TOKEN_VARIABLE = "bolsync_access_token__{}"
TERMINAL = ("success", "failed")
#: bol.offers column -> the emulator's offer ground-truth field.
OFFER_COLUMNS = {
    "ean": "ean",
    "unit_price": "price",
    "stock_amount": "stock_amount",
    "on_hold_by_retailer": "on_hold",
    "fulfilment_type": "fulfilment_method",
    "fulfilment_delivery_code": "delivery_code",
    "reference_code": "reference",
    "economic_operator_id": "economic_operator_id",
    "condition_name": "condition_name",
    "condition_category": "condition_category",
    "mutation_date_time": "last_modified_at",
}
#: Tables whose content must survive the restart and not change in the rerun (bookkeeping of when a row
#: was last seen is left out: a rerun rightly touches it).
STABLE_TABLES = {
    "bol.orders": "retailer_id, order_id",
    "bol.order_items": "retailer_id, order_item_id",
    "bol.offers": "retailer_id, offer_id",
    "bol.offer_snapshots": "retailer_id, offer_id, snapshot_date",
}
VOLATILE_COLUMNS = {"last_seen_at"}
_T0 = time.monotonic()


class CheckFailed(RuntimeError):
    """A check of the stack did not hold."""


def say(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", flush=True)


# ------------------------------------------------------------------------------------------------- plumbing


def docker_bin() -> str:
    """Debian's docker client (it matches the daemon docker_engine.sh starts), else any on PATH."""
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def run(
    command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 1800
) -> str:
    """Run a command; its stdout (stderr too when ``log`` is given, written there). Raise CheckFailed on failure."""
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"\n$ {' '.join(command)}\n")
            handle.flush()
            logged = subprocess.run(
                command, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        if logged.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise CheckFailed(f"`{' '.join(command[:4])} ...` exited {logged.returncode}; last lines of {log}:\n{tail}")
        return ""
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise CheckFailed(
            f"`{' '.join(command)}` exited {result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Timings:
    """Seconds per phase, in order."""

    phases: list[tuple[str, float, str]] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        say(f"== {name}")
        start = time.monotonic()
        outcome = "ok"
        try:
            yield
        except BaseException:
            outcome = "FAILED"
            raise
        finally:
            self.phases.append((name, time.monotonic() - start, outcome))
            say(f"== {name}: {outcome} in {time.monotonic() - start:.1f}s")

    def report(self) -> str:
        lines = [f"  {name:<10} {seconds:7.1f}s  {outcome}" for name, seconds, outcome in self.phases]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- images


def remove_stale_stacks(env: dict[str, str]) -> None:
    """Remove the containers and volumes an earlier check left behind (killed before its teardown): their
    ``restart: always`` would bring them back with the engine and load the machine."""
    out = run([docker_bin(), "ps", "-a", "--format", '{{.ID}} {{.Label "com.docker.compose.project"}}'], env=env)
    stale = [line.split() for line in out.splitlines() if len(line.split()) == 2]
    stale = [(cid, name) for cid, name in stale if name.startswith("bolsynccheck")]
    if not stale:
        return
    say(f"removing {len(stale)} containers of earlier checks: {sorted({name for _, name in stale})}")
    run([docker_bin(), "rm", "-f", *[cid for cid, _ in stale]], env=env)
    for name in {name for _, name in stale}:
        volumes = run(
            [docker_bin(), "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}"], env=env
        ).split()
        if volumes:
            run([docker_bin(), "volume", "rm", "-f", *volumes], env=env)


def start_engine() -> str:
    """DOCKER_HOST of the engine docker_engine.sh starts (or finds running)."""
    out = run(["bash", str(HERE / "docker_engine.sh")])
    host = out.strip().splitlines()[-1]
    if not host.startswith("unix://"):
        raise CheckFailed(f"docker_engine.sh printed no DOCKER_HOST: {out!r}")
    return host


def build_bases(env: dict[str, str], log: Path) -> None:
    run(["bash", str(HERE / "images.sh")], env=env, log=log)


def celery_pins() -> list[str]:
    return [
        line.strip()
        for line in (HERE / "celery-pins.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _name(requirement: str) -> str:
    return re.split(r"[=<>\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def lock_for_image(lock: str) -> tuple[str, bool]:
    """The lock the image is built from: requirements.txt, plus tests/compose/celery-pins.txt while the lock
    lacks the Celery provider (their versions replace the lock's). Returns (text, patched)."""
    if re.search(r"^apache-airflow-providers-celery==", lock, re.MULTILINE):
        return lock, False
    if "--hash=" in lock:
        raise CheckFailed("requirements.txt (a hashed lock) does not pin apache-airflow-providers-celery")
    pins = celery_pins()
    names = {_name(pin) for pin in pins}
    kept = [line for line in lock.splitlines() if not line.strip() or line.startswith("#") or _name(line) not in names]
    return "\n".join(
        [*kept, "# added by tests/compose/compose_check.py from tests/compose/celery-pins.txt", *pins]
    ) + "\n", True


def build_context(target: Path) -> None:
    """Copy the working tree's files (tracked and untracked, not ignored) to ``target``, plus the CA bundle."""
    listed = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    copied = 0
    for relative in sorted({p for p in listed.split("\0") if p}):
        source = REPO / relative
        if not source.is_file():  # deleted in the work tree
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        copied += 1
    lock, patched = lock_for_image((REPO / "requirements.txt").read_text())
    (target / "requirements.txt").write_text(lock)
    if patched:
        say(
            "requirements.txt pins no apache-airflow-providers-celery yet: "
            "building with tests/compose/celery-pins.txt added"
        )
    bundle = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():
        shutil.copy(bundle, target / ".pip-ca.crt")
    say(f"build context: {copied} files from the work tree" + (f", CA bundle {bundle}" if bundle.is_file() else ""))


def build_project_image(env: dict[str, str], workdir: Path, log: Path) -> None:
    context = workdir / "context"
    context.mkdir()
    build_context(context)
    run(
        [
            docker_bin(),
            "build",
            "--force-rm",
            "--network",
            "host",
            "--build-arg",
            f"BASE_IMAGE={AIRFLOW_STANDIN}",
            "-t",
            IMAGE,
            str(context),
        ],
        env={**env, "DOCKER_BUILDKIT": "0"},
        log=log,
    )
    shutil.rmtree(context, ignore_errors=True)


# ------------------------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """One compose project of docker-compose.yaml with a throwaway .env."""

    project: str
    env_file: Path
    docker_env: dict[str, str]
    workers: int
    api_port: int
    log: Path

    def compose(self, *args: str, capture: bool = False, timeout: float = 900) -> str:
        command = [
            "docker-compose",
            "-f",
            str(REPO / "docker-compose.yaml"),
            "-p",
            self.project,
            "--env-file",
            str(self.env_file),
            "--profile",
            "demo",
            *args,
        ]
        if capture:
            return run(command, env=self.docker_env, timeout=timeout)
        return run(command, env=self.docker_env, log=self.log, timeout=timeout)

    def up(self, timeout: float) -> None:
        """`up -d`; if Compose gives up on a dependency that is not healthy yet (a busy host can take longer
        than its healthcheck's start period), wait for it to become healthy and run `up -d` again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.compose("up", "-d", "--no-build", "--scale", f"airflow-worker={self.workers}")
                return
            except CheckFailed as error:
                if "is unhealthy" not in str(error) or time.monotonic() > deadline:
                    raise
                say("compose gave up on a dependency that is not healthy yet; waiting for it, then `up` again")
                self.wait_healthy(max(60.0, deadline - time.monotonic()), partial=True)

    def containers(self) -> list[dict[str, Any]]:
        ids = run(
            [docker_bin(), "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"],
            env=self.docker_env,
        ).split()
        if not ids:
            return []
        return list(json.loads(run([docker_bin(), "inspect", *ids], env=self.docker_env)))

    def service_hostnames(self, service: str) -> set[str]:
        return {
            c["Config"]["Hostname"]
            for c in self.containers()
            if c["Config"]["Labels"].get("com.docker.compose.service") == service and c["State"]["Running"]
        }

    def exec(self, service: str, *command: str) -> str:
        return self.compose("exec", "-T", service, *command, capture=True, timeout=120)

    def sql(self, service: str, user: str, database: str, query: str) -> Any:
        """The rows of ``query`` as JSON (via psql inside the database's container)."""
        wrapped = f"SELECT coalesce(json_agg(t), '[]'::json) FROM ({query}) t"
        return json.loads(self.exec(service, "psql", "-U", user, "-d", database, "-AtX", "-c", wrapped))

    def warehouse(self, query: str) -> list[dict[str, Any]]:
        return list(self.sql("warehouse-db", "bolsync", "warehouse", query))

    def emulator(self, path: str) -> Any:
        return json.loads(self.exec("bol-emulator", "curl", "--fail", "--silent", f"http://localhost:8765{path}"))

    def wait_healthy(self, timeout: float, partial: bool = False) -> None:
        """Every container running and healthy (the init job exited 0), the right number of workers (with
        ``partial``: the containers that exist so far)."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            problems, waiting = [], []
            containers = self.containers()
            workers = 0
            for c in containers:
                name = c["Name"].lstrip("/")
                service = c["Config"]["Labels"].get("com.docker.compose.service", "")
                state = c["State"]
                if service == "airflow-init":
                    if state["Status"] == "exited" and state["ExitCode"] != 0:
                        problems.append(f"{name} exited {state['ExitCode']}")
                    elif state["Status"] != "exited":
                        waiting.append(f"{name}: {state['Status']}")
                    continue
                workers += service == "airflow-worker"
                health = (state.get("Health") or {}).get("Status")
                if not state["Running"]:
                    problems.append(f"{name} is {state['Status']} (exit code {state['ExitCode']})")
                elif health not in (None, "healthy"):
                    waiting.append(f"{name}: {health}")
            if workers != self.workers and not partial:
                waiting.append(f"{workers}/{self.workers} workers")
            if problems:
                raise CheckFailed("; ".join(problems))
            if not waiting and containers:
                say(f"all {len(containers)} containers healthy ({workers} workers)")
                return
            line = ", ".join(waiting)
            if line != last:
                say(f"waiting for {line}")
                last = line
            if time.monotonic() > deadline:
                raise CheckFailed(f"not healthy after {timeout:.0f}s: {line}")
            time.sleep(3)

    def diagnostics(self) -> str:
        """`ps` and the last log lines of every service, for a failure report."""
        parts = []
        try:
            parts.append(self.compose("ps", capture=True))
            parts.append(self.compose("logs", "--no-color", "--tail", "25", capture=True, timeout=120))
        except (CheckFailed, subprocess.TimeoutExpired) as error:
            parts.append(f"(diagnostics unavailable: {error})")
        return "\n".join(parts)


def write_env(path: Path, api_port: int, anchor: datetime) -> dict[str, str]:
    """make_env.sh --demo, plus the stand-in images, the API port and the emulator's anchor."""
    text = run(["bash", str(HERE / "make_env.sh"), "--demo"])
    text += "\n".join(
        [
            "",
            "# compose_check: images built locally (no registry here), a free API port, a fixed emulator world",
            f"BOLSYNC_IMAGE={IMAGE}",
            f"AIRFLOW_BASE_IMAGE={AIRFLOW_STANDIN}",
            f"POSTGRES_IMAGE={POSTGRES_STANDIN}",
            f"REDIS_IMAGE={REDIS_STANDIN}",
            f"AIRFLOW_API_PORT={api_port}",
            f"BOL_EMULATOR_ARGS=--anchor {anchor.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "",
        ]
    )
    path.write_text(text)
    path.chmod(0o600)
    values = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value.strip("'")
    return values


# ------------------------------------------------------------------------------------------------- REST


@dataclass
class Airflow:
    """The Airflow REST API of the stack (POST /auth/token, then /api/v2 with the bearer token)."""

    base_url: str
    username: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)

    def login(self) -> None:
        """A bearer token from POST /auth/token (retried: a busy API server can stall for a while)."""
        for attempt in range(1, 6):
            try:
                response = self.session.post(
                    f"{self.base_url}/auth/token",
                    json={"username": self.username, "password": self.password},
                    timeout=60,
                )
            except requests.RequestException as error:
                if attempt == 5:
                    raise CheckFailed(f"login as {self.username}: {error}") from error
                say(f"(login: {error}; trying again)")
                time.sleep(5)
                continue
            if response.status_code < 500 or attempt == 5:
                break
            time.sleep(5)
        if response.status_code not in (200, 201):
            raise CheckFailed(f"login as {self.username}: HTTP {response.status_code} {response.text[:300]}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        for attempt in range(5):
            try:
                response = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=60, **kwargs)
            except requests.RequestException as error:
                if attempt == 4 or method not in ("GET", "PATCH"):
                    raise CheckFailed(f"{method} {path}: {error}") from error
                time.sleep(3)
                continue
            if response.status_code == 401 and attempt < 4:
                self.login()
                continue
            if response.status_code >= 500 and method in ("GET", "PATCH") and attempt < 4:
                time.sleep(3)
                continue
            if response.status_code not in ok:
                raise CheckFailed(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    def health(self) -> dict[str, Any]:
        return dict(self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=10).json())

    def wait_dags(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            found = {d["dag_id"] for d in self.call("GET", "/dags", params={"limit": 100})["dags"]}
            if set(DAGS) <= found:
                say(f"DAGs parsed: {', '.join(sorted(found))}")
                return
            errors = self.call("GET", "/importErrors")["import_errors"]
            if errors:
                details = "\n".join(f"{e['filename']}:\n{e['stack_trace'][-1500:]}" for e in errors)
                raise CheckFailed(f"DAG import errors:\n{details}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"DAGs {DAGS} not parsed after {timeout:.0f}s (found {sorted(found)})")
            time.sleep(3)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(
            self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})["task_instances"]
        )

    def task_log(self, ti: dict[str, Any]) -> str:
        path = f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
        try:
            body = self.call("GET", path, params={"map_index": ti["map_index"], "full_content": "true"})
        except CheckFailed as error:
            return f"(no log: {error})"
        content = body.get("content", "") if isinstance(body, dict) else body
        if isinstance(content, list):
            content = "\n".join(str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in content)
        return "\n".join(str(content).splitlines()[-40:])


def yesterday_window(now: datetime) -> tuple[datetime, datetime]:
    """Yesterday 00:00 to today 00:00, Europe/Amsterdam: the day both DAGs ran for last."""
    today = now.astimezone(AMSTERDAM).date()
    return (
        datetime.combine(today - timedelta(days=1), datetime.min.time(), AMSTERDAM),
        datetime.combine(today, datetime.min.time(), AMSTERDAM),
    )


def trigger(api: Airflow, dag_id: str, start: datetime, end: datetime) -> str:
    """Unpause ``dag_id`` and trigger it for [start, end); a run the scheduler already created for that
    logical date (it schedules the latest interval on unpause) is adopted. Returns the run id."""
    api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    body = {
        "logical_date": start.isoformat(),
        "data_interval_start": start.isoformat(),
        "data_interval_end": end.isoformat(),
        "conf": {},
    }
    created = api.call("POST", f"/dags/{dag_id}/dagRuns", ok=(200, 409), json=body)
    if created and "dag_run_id" in created:
        say(f"triggered {dag_id} for {start:%Y-%m-%d} (Amsterdam): {created['dag_run_id']}")
        return str(created["dag_run_id"])
    runs = api.call(
        "GET",
        f"/dags/{dag_id}/dagRuns",
        params={"logical_date_gte": start.isoformat(), "logical_date_lte": start.isoformat()},
    )["dag_runs"]
    if not runs:
        raise CheckFailed(f"{dag_id}: the trigger for {start} conflicted, yet no run has that logical date")
    run_id = str(runs[0]["dag_run_id"])
    say(f"{dag_id} for {start:%Y-%m-%d}: the scheduler created it on unpause ({run_id}); using that run")
    return run_id


def wait_runs(api: Airflow, runs: dict[str, str], timeout: float) -> None:
    """Until every run is success or failed; raise CheckFailed (with failed tasks' logs) unless all succeeded."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        states = {dag_id: api.run_state(dag_id, run_id) for dag_id, run_id in runs.items()}
        line = ", ".join(f"{dag_id} {state}" for dag_id, state in states.items())
        if line != last:
            say(line)
            last = line
        if all(state in TERMINAL for state in states.values()):
            break
        if time.monotonic() > deadline:
            raise CheckFailed(f"runs not finished after {timeout:.0f}s: {line}")
        time.sleep(5)
    failed = [dag_id for dag_id, state in states.items() if state != "success"]
    if failed:
        details = []
        for dag_id in failed:
            for ti in api.task_instances(dag_id, runs[dag_id]):
                if ti["state"] not in ("success", "skipped"):
                    details.append(f"--- {dag_id}.{ti['task_id']}[{ti['map_index']}] {ti['state']}\n{api.task_log(ti)}")
        raise CheckFailed(f"runs failed: {', '.join(failed)}\n" + "\n".join(details))


# ------------------------------------------------------------------------------------------------- checks


def _same(stored: Any, expected: Any) -> bool:
    """Equal after the representations are aligned: numbers as 2-decimal values, instants as UTC, '' as None."""
    if expected in ("", None) or stored in ("", None):
        return expected in ("", None) and stored in ("", None)
    if isinstance(expected, bool) or isinstance(stored, bool):
        return bool(stored) == bool(expected)
    if isinstance(expected, int | float) or isinstance(stored, int | float):
        return Decimal(str(stored)).quantize(Decimal("0.01")) == Decimal(str(expected)).quantize(Decimal("0.01"))
    if isinstance(expected, str) and isinstance(stored, str) and re.match(r"\d{4}-\d\d-\d\dT", expected):
        return datetime.fromisoformat(stored) == datetime.fromisoformat(expected)
    return bool(stored == expected)


def compare_rows(
    what: str, stored: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]], columns: dict[str, str]
) -> list[str]:
    """Differences between warehouse rows and ground-truth rows keyed alike (columns: stored -> truth)."""
    problems = []
    missing = expected.keys() - stored.keys()
    unexpected = stored.keys() - expected.keys()
    if missing:
        problems.append(f"{what}: {len(missing)} missing, e.g. {sorted(missing)[:3]}")
    if unexpected:
        problems.append(f"{what}: {len(unexpected)} not in the emulator, e.g. {sorted(unexpected)[:3]}")
    for key in sorted(stored.keys() & expected.keys()):
        for column, field_name in columns.items():
            if not _same(stored[key][column], expected[key][field_name]):
                problems.append(
                    f"{what} {key}: {column} is {stored[key][column]!r}, the emulator has {expected[key][field_name]!r}"
                )
                break
    return problems


def check_orders(stack: Stack, start: datetime, end: datetime) -> str:
    """bol.order_items holds exactly the items of the orders that had an item change in [start, end) (the
    list finds those orders; their full details bring every item), each at the emulator's current state;
    bol.orders holds exactly those orders."""
    problems, summary = [], []
    accounts = {a["client_id"]: str(a["retailer_id"]) for a in stack.emulator("/_emulator/accounts")}
    for conn_id, client_id in ACCOUNTS.items():
        retailer = accounts[client_id]
        truth = stack.emulator(f"/_emulator/accounts/{client_id}/order-items")
        changed = [row for row in truth if start <= datetime.fromisoformat(row["latest_changed_at"]) < end]
        expected_orders = {row["order_id"] for row in changed}
        expected = {row["order_item_id"]: row for row in truth if row["order_id"] in expected_orders}
        columns = ", ".join(ITEM_COLUMNS)
        stored = {
            row["order_item_id"]: row
            for row in stack.warehouse(
                f"SELECT order_item_id, {columns} FROM bol.order_items WHERE retailer_id = '{retailer}'"
            )
        }
        if not changed:
            problems.append(f"{conn_id}: the emulator has no order item changed in the window (nothing to check)")
        problems += compare_rows(f"{conn_id} order item", stored, expected, {c: c for c in ITEM_COLUMNS})
        orders = {
            row["order_id"]
            for row in stack.warehouse(f"SELECT order_id FROM bol.orders WHERE retailer_id = '{retailer}'")
        }
        if orders != expected_orders:
            problems.append(
                f"{conn_id}: bol.orders has {len(orders)} orders, the day's changes belong to {len(expected_orders)} "
                f"(missing {sorted(expected_orders - orders)[:3]}, extra {sorted(orders - expected_orders)[:3]})"
            )
        summary.append(f"{conn_id}: {len(stored)} items of {len(orders)} orders ({len(changed)} changed that day)")
    if problems:
        raise CheckFailed("orders differ from the emulator:\n  " + "\n  ".join(problems[:20]))
    return "; ".join(summary)


def check_offers(stack: Stack) -> str:
    """bol.offers holds exactly the emulator's current offers per retailer, none flagged deleted."""
    problems, summary = [], []
    accounts = {a["client_id"]: str(a["retailer_id"]) for a in stack.emulator("/_emulator/accounts")}
    columns = ", ".join(OFFER_COLUMNS)
    for conn_id, client_id in ACCOUNTS.items():
        retailer = accounts[client_id]
        truth = {row["offer_id"]: row for row in stack.emulator(f"/_emulator/accounts/{client_id}/offers")}
        rows = stack.warehouse(f"SELECT offer_id, deleted, {columns} FROM bol.offers WHERE retailer_id = '{retailer}'")
        deleted = [row["offer_id"] for row in rows if row["deleted"]]
        if deleted:
            problems.append(f"{conn_id}: {len(deleted)} offers flagged deleted, e.g. {deleted[:3]}")
        stored = {row["offer_id"]: row for row in rows}
        problems += compare_rows(f"{conn_id} offer", stored, truth, OFFER_COLUMNS)
        summary.append(f"{conn_id}: {len(stored)} offers")
    if problems:
        raise CheckFailed("offers differ from the emulator:\n  " + "\n  ".join(problems[:20]))
    return "; ".join(summary)


def check_workers(api: Airflow, stack: Stack, runs: dict[str, str]) -> str:
    """The runs' task instances ran on every worker container (hostname = container hostname)."""
    hosts: dict[str, int] = {}
    for dag_id, run_id in runs.items():
        for ti in api.task_instances(dag_id, run_id):
            if ti["state"] == "success" and ti.get("hostname"):
                hosts[ti["hostname"]] = hosts.get(ti["hostname"], 0) + 1
    workers = stack.service_hostnames("airflow-worker")
    if len(workers) != stack.workers:
        raise CheckFailed(f"{len(workers)} worker containers running, expected {stack.workers}")
    if set(hosts) - workers:
        raise CheckFailed(
            f"task instances ran on {sorted(set(hosts) - workers)}, which are not workers {sorted(workers)}"
        )
    if workers - set(hosts):
        raise CheckFailed(f"no task ran on worker(s) {sorted(workers - set(hosts))}; tasks per host: {hosts}")
    return ", ".join(f"{host}: {count} tasks" for host, count in sorted(hosts.items()))


def check_pools(api: Airflow) -> str:
    shipped = json.loads((REPO / "include" / "airflow" / "pools.json").read_text())
    pools = {p["name"]: p for p in api.call("GET", "/pools", params={"limit": 100})["pools"]}
    for name, spec in shipped.items():
        if name not in pools or pools[name]["slots"] != spec["slots"]:
            raise CheckFailed(f"pool {name}: expected {spec['slots']} slots, found {pools.get(name)}")
    return ", ".join(f"{name} {pools[name]['slots']} slots" for name in shipped)


def token_ciphertexts(stack: Stack) -> dict[str, str]:
    """md5 of each cached token Variable's stored (encrypted) value, by key."""
    rows = stack.sql(
        "postgres",
        "airflow",
        "airflow",
        "SELECT key, md5(val) AS digest FROM variable WHERE key LIKE 'bolsync_access_token__%'",
    )
    return {row["key"]: row["digest"] for row in rows}


def check_token_variables(api: Airflow, stack: Stack) -> str:
    """One cached token Variable per connection, readable through the API (masked) and encrypted at rest."""
    keys = [TOKEN_VARIABLE.format(conn_id) for conn_id in ACCOUNTS]
    for key in keys:
        api.call("GET", f"/variables/{key}")
    rows = stack.sql(
        "postgres",
        "airflow",
        "airflow",
        "SELECT key, is_encrypted, left(val, 6) AS head FROM variable WHERE key LIKE 'bolsync_access_token__%'",
    )
    at_rest = {row["key"]: row for row in rows}
    for key in keys:
        row = at_rest.get(key)
        if row is None or not row["is_encrypted"] or not row["head"].startswith("gAAAAA"):
            raise CheckFailed(f"Variable {key} is not stored Fernet-encrypted: {row}")
    return f"{len(keys)} token Variables, Fernet-encrypted at rest"


def warehouse_fingerprint(stack: Stack) -> dict[str, tuple[int, str]]:
    """Row count and md5 of the ordered rows (without bookkeeping columns) of each stable table."""
    result = {}
    for table, key in STABLE_TABLES.items():
        schema, name = table.split(".")
        columns = [
            row["column_name"]
            for row in stack.warehouse(
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = '{schema}' AND table_name = '{name}' ORDER BY ordinal_position"
            )
            if row["column_name"] not in VOLATILE_COLUMNS
        ]
        row = stack.warehouse(
            f"SELECT count(*) AS n, coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') AS digest "
            f"FROM (SELECT {', '.join(columns)} FROM {table} ORDER BY {key}) r"
        )[0]
        result[table] = (int(row["n"]), str(row["digest"]))
    return result


def rerun_changes(stack: Stack, runs: dict[str, str]) -> list[dict[str, Any]]:
    """bol.sync_runs rows of the runs' latest tries that inserted or updated something."""
    ids = ", ".join(f"'{run_id}'" for run_id in runs.values())
    return stack.warehouse(
        "SELECT dag_id, task_id, map_index, try_number, orders_inserted, orders_updated, items_inserted, "
        "items_updated, offers_inserted, offers_updated, offers_deleted FROM bol.sync_runs s "
        f"WHERE run_id IN ({ids}) AND try_number = (SELECT max(try_number) FROM bol.sync_runs m "
        "WHERE m.run_id = s.run_id AND m.task_id = s.task_id AND m.map_index = s.map_index) "
        "AND (coalesce(orders_inserted, 0) + coalesce(orders_updated, 0) + coalesce(items_inserted, 0) "
        "+ coalesce(items_updated, 0) + coalesce(offers_inserted, 0) + coalesce(offers_updated, 0) "
        "+ coalesce(offers_deleted, 0)) > 0"
    )


# ------------------------------------------------------------------------------------------------- main


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(3)


def start_and_login(stack: Stack, api: Airflow, timeout: float) -> None:
    stack.up(timeout)
    stack.wait_healthy(timeout)
    api.login()
    api.wait_dags(timeout)


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compose.compose_check", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (--scale airflow-worker=N)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the runs of one phase")
    parser.add_argument("--keep", action="store_true", help="leave the stack and its volumes running at the end")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)  # a timeout's SIGTERM still runs the teardown below

    timings = Timings()
    workdir = Path(tempfile.mkdtemp(prefix="bolsync-compose-check."))
    project = f"bolsynccheck{uuid.uuid4().hex[:8]}"
    log = workdir / "compose_check.log"
    say(f"compose project {project}; work folder {workdir} (log {log.name})")
    stack: Stack | None = None
    ok = False
    try:
        with timings.phase("engine"):
            docker_env = {**os.environ, "DOCKER_HOST": start_engine(), "DOCKER_BUILDKIT": "0"}
            say(f"DOCKER_HOST={docker_env['DOCKER_HOST']}")
            remove_stale_stacks(docker_env)
        with timings.phase("bases"):
            build_bases(docker_env, log)
        with timings.phase("image"):
            build_project_image(docker_env, workdir, log)
        env_file = workdir / ".env"
        values = write_env(env_file, free_port(), datetime.now(UTC))
        stack = Stack(project, env_file, docker_env, args.workers, int(values["AIRFLOW_API_PORT"]), log)
        api = Airflow(
            f"http://127.0.0.1:{stack.api_port}", values["AIRFLOW_ADMIN_USER"], values["AIRFLOW_ADMIN_PASSWORD"]
        )
        with timings.phase("up"):
            start_and_login(stack, api, 900)
        start, end = yesterday_window(datetime.now(UTC))
        with timings.phase("runs"):
            runs = {dag_id: trigger(api, dag_id, start, end) for dag_id in DAGS}
            wait_runs(api, runs, args.timeout)
        with timings.phase("verify"):
            say("orders: " + check_orders(stack, start, end))
            say("offers: " + check_offers(stack))
            say("workers: " + check_workers(api, stack, runs))
            say("pools: " + check_pools(api))
            say("tokens: " + check_token_variables(api, stack))
            before = warehouse_fingerprint(stack)
            say("warehouse: " + ", ".join(f"{t} {n} rows" for t, (n, _) in before.items()))
            tokens_before = token_ciphertexts(stack)
        with timings.phase("restart"):
            stack.compose("down")
            say("down (volumes kept); up again")
            start_and_login(stack, api, 900)
            after = warehouse_fingerprint(stack)
            if after != before:
                raise CheckFailed(f"the warehouse changed across down/up: {before} -> {after}")
            say("warehouse rows survived: identical")
            say("pools: " + check_pools(api))
            say("tokens: " + check_token_variables(api, stack))
            if token_ciphertexts(stack) != tokens_before:
                raise CheckFailed("the cached token Variables changed across down/up (no task ran in between)")
            say("the cached tokens survived unchanged")
        with timings.phase("rerun"):
            for dag_id, run_id in runs.items():
                api.call("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})
                say(f"cleared {dag_id} {run_id}")
            wait_for(
                lambda: (
                    all(api.run_state(d, r) not in TERMINAL for d, r in runs.items())
                    or all(api.run_state(d, r) == "success" for d, r in runs.items())
                ),
                60,
                "the cleared runs to start",
            )
            wait_runs(api, runs, args.timeout)
            changed = rerun_changes(stack, runs)
            if changed:
                raise CheckFailed(f"the rerun inserted or updated rows: {changed}")
            again = warehouse_fingerprint(stack)
            if again != before:
                raise CheckFailed(f"the rerun changed the warehouse: {before} -> {again}")
            say("rerun: success, no row inserted or updated, warehouse identical")
            say("orders: " + check_orders(stack, start, end))
            say("offers: " + check_offers(stack))
        ok = True
    except (CheckFailed, subprocess.TimeoutExpired, requests.RequestException, KeyError, ValueError) as error:
        say(f"FAILED: {error}")
        if stack is not None:
            print(stack.diagnostics()[-15000:], flush=True)
    finally:
        if stack is not None and not args.keep:
            with timings.phase("teardown"):
                try:
                    stack.compose("down", "-v", "--remove-orphans")
                except CheckFailed as error:
                    say(f"teardown failed: {error}")
                    ok = False
        elif stack is not None:
            say(
                f"--keep: the stack runs on; stop it with: DOCKER_HOST={stack.docker_env['DOCKER_HOST']} "
                f"docker-compose -f {REPO / 'docker-compose.yaml'} -p {project} --env-file {stack.env_file} "
                "--profile demo down -v"
            )
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\nPhases:\n" + timings.report(), flush=True)
    print(f"Total: {time.monotonic() - _T0:.1f}s", flush=True)
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
