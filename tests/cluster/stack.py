"""A CeleryExecutor deployment of bolsync on this machine, from the venv, with no container.

The production topology: PostgreSQL metadata database (also the Celery result backend), Redis broker,
``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer`` and N ``airflow celery worker``
processes; the rate budget and token lease on Redis, a PostgreSQL warehouse, staging on a folder every
worker sees; the bol emulator as the API. Every database, Redis index, port and folder is fresh and is
removed on exit, whatever happened; every process carries ``BOLSYNC_DEMO_TOKEN=<token>`` so that leftovers
are found and stopped.
Every process runs this checkout's code (its ``include`` ahead of the venv's install), so a worktree of the
repository deploys itself, not the checkout the venv was built from.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bolsync_demo.api import AirflowClient, ApiError, emulator_get
from bolsync_demo.procs import TOKEN_VARIABLE, free_port, kill_leftovers, run_command, start_process, stop_group, tail
from tests.cluster.hostname import HOSTNAME_VARIABLE
from tests.cluster.services import postgres_database, redis_database

REPO = Path(__file__).resolve().parents[2]
POOLS_FILE = REPO / "include" / "airflow" / "pools.json"
ADMIN = ("admin", "admin")
START_TIMEOUT = 240.0
EMULATOR_NICE = -10
#: The workers preload the sync code before forking their task processes (``bolsync.runs.celery_config``).
CELERY_CONFIG_OPTIONS = "bolsync.runs.celery_config.CELERY_CONFIG"
_T0 = time.monotonic()


def say(message: str) -> None:
    """A progress line with the seconds since the process started."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


class ClusterError(RuntimeError):
    """The cluster could not be started or a component died."""


@dataclass(frozen=True)
class Account:
    """One bol account: its Airflow connection and its emulator credentials."""

    conn_id: str
    client_id: str
    client_secret: str
    retailer_id: str
    orders_per_day: int | None = None

    def emulator_entry(self) -> dict[str, Any]:
        """The account as an entry of the emulator's ``--accounts`` file."""
        entry: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "retailer_id": self.retailer_id,
        }
        if self.orders_per_day is not None:
            entry["orders_per_day"] = self.orders_per_day
        return entry


#: The emulator's two ``--accounts demo`` accounts.
DEMO_ACCOUNTS = (
    Account("bol_shop_a", "demo-client-a", "demo-secret-a", "1000001"),
    Account("bol_shop_b", "demo-client-b", "demo-secret-b", "1000002"),
)


@dataclass(frozen=True)
class ClusterSpec:
    """What to deploy. ``rate_per_second`` is both the emulator's credential-wide limit and the budget
    of every connection (``rate_limit_per_second``), so the budget is what bol would enforce."""

    accounts: tuple[Account, ...] = DEMO_ACCOUNTS
    workers: int = 2
    concurrency: int = 4
    rate_per_second: float = 5.0
    token_lifetime: int = 300
    orders_per_day: int = 40
    history_days: int = 10
    seed: int = 42
    #: Pool slots set after ``airflow pools import include/airflow/pools.json``.
    pools: dict[str, int] = field(default_factory=dict)
    api_workers: int = 2

    @property
    def demo_accounts(self) -> bool:
        return self.accounts == DEMO_ACCOUNTS


@dataclass
class Cluster:
    """Start with ``with Cluster(spec) as cluster:``; everything stops and is removed on exit."""

    spec: ClusterSpec
    keep: bool = False
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bolsync-cluster-")))
    metadata_url: str = ""
    warehouse_url: str = ""
    broker_url: str = ""
    shared_state_url: str = ""
    api_port: int = 0
    emulator_port: int = 0
    #: Set by a caller whose run failed: the work folder (logs) is kept.
    failed: bool = False
    _resources: ExitStack = field(default_factory=ExitStack)
    _client: AirflowClient | None = None

    # ---------------------------------------------------------------- paths and URLs

    @property
    def airflow_home(self) -> Path:
        return self.workdir / "airflow"

    @property
    def staging_dir(self) -> Path:
        return self.workdir / "staging"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def client(self) -> AirflowClient:
        if self._client is None:
            raise ClusterError("the cluster is not started")
        return self._client

    def worker_names(self) -> list[str]:
        return [f"w{n}" for n in range(1, self.spec.workers + 1)]

    # ---------------------------------------------------------------- start

    def __enter__(self) -> Cluster:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        self.timings["start"] = time.monotonic() - started
        return self

    def _start(self) -> None:
        for folder in (self.airflow_home, self.staging_dir, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        say(f"cluster {self.token[:8]}: work folder {self.workdir}")
        self.metadata_url = self._resources.enter_context(postgres_database("bolsync_cluster"))
        self.warehouse_url = self._resources.enter_context(postgres_database("bolsync_cluster_wh"))
        self.broker_url = self._resources.enter_context(redis_database())
        self.shared_state_url = self._resources.enter_context(redis_database())
        say(
            f"metadata DB {_name(self.metadata_url)}, warehouse DB {_name(self.warehouse_url)}, "
            f"broker {self.broker_url}, shared state {self.shared_state_url}"
        )
        self.api_port, self.emulator_port = free_port(), free_port()
        self.env = self._airflow_env()
        self._write_admin_password()
        self._start_emulator()
        self._prepare_airflow()
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            self._spawn(name, ["airflow", name], self.env)
        for name in self.worker_names():
            self._spawn(name, self._worker_command(name), self._worker_env(name))
        self._client = AirflowClient(self.api_url)
        self._wait(self._healthy, "Airflow's health endpoint (metadatabase, scheduler, dag-processor, triggerer)")
        self.client.login(*ADMIN)
        self._wait(lambda: self.client.dag("bol_orders_daily") is not None, "bol_orders_daily to be parsed")
        for name in self.worker_names():
            self._wait(functools.partial(self._worker_ready, name), f"Celery worker {name}")
        for pool, slots in self.spec.pools.items():
            self.client.request(
                "PATCH",
                f"/pools/{pool}",
                f"set pool {pool}",
                json={"pool": pool, "slots": slots, "include_deferred": False},
            )
        say(f"cluster up: API {self.api_url}, emulator {self.emulator_url}, workers {', '.join(self.worker_names())}")

    def _airflow_env(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        spec = self.spec
        meta = urlsplit(self.metadata_url)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BOLSYNC_"))}
        env = {
            **base,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(str(p) for p in (REPO / "include", REPO / "include" / "demo", REPO)),
            TOKEN_VARIABLE: self.token,
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(max(8, spec.workers * spec.concurrency)),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN[0]}:admin",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": str(spec.api_workers),
            # The documented remedy for "timed out" calls of the task supervisors to a busy API server
            # (default 5 s); a small host running many task processes needs it.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "30",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{meta.scheme}://{meta.netloc}{meta.path}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(spec.concurrency),
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG_OPTIONS,
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__BOLSYNC__SHARED_STATE_URL": self.shared_state_url,
            "BOLSYNC_STAGING_DIR": str(self.staging_dir),
            "AIRFLOW_CONN_BOL_WAREHOUSE": json.dumps(_postgres_connection(self.warehouse_url)),
            "AIRFLOW_VAR_BOLSYNC_ACCOUNTS": json.dumps([a.conn_id for a in spec.accounts]),
        }
        for account in spec.accounts:
            env[f"AIRFLOW_CONN_{account.conn_id.upper()}"] = json.dumps(self._retailer_connection(account))
        return env

    def _retailer_connection(self, account: Account) -> dict[str, Any]:
        return {
            "conn_type": "bol_retailer",
            "login": account.client_id,
            "password": account.client_secret,
            "extra": {
                "api_url": self.emulator_url,
                "login_url": f"{self.emulator_url}/token",
                "rate_limit_per_second": self.spec.rate_per_second,
            },
        }

    def _worker_env(self, name: str) -> dict[str, str]:
        return {
            **self.env,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.cluster.hostname.worker_hostname",
            HOSTNAME_VARIABLE: name,
        }

    def _worker_command(self, name: str) -> list[str]:
        return [
            "airflow",
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(self.spec.concurrency),
        ]

    def _write_admin_password(self) -> None:
        passwords = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        passwords.write_text(json.dumps({ADMIN[0]: ADMIN[1]}) + "\n")

    def _start_emulator(self) -> None:
        command = emulator_command(self.spec, self.emulator_port, self.workdir)
        self._spawn("emulator", command, self.env)
        # The emulator plays bol's servers, which do not share the workers' CPU: its arrival times should
        # not wait for a busy core (a raised priority needs root; without it the emulator runs as is).
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.processes["emulator"].pid, EMULATOR_NICE)
        self._wait(lambda: emulator_get(self.emulator_url, "/_emulator/health").get("status") == "ok", "the emulator")

    def _prepare_airflow(self) -> None:
        log = self.logs / "setup.log"
        say("airflow db migrate")
        run_command(["airflow", "db", "migrate"], self.env, log, REPO, "airflow db migrate")
        say(f"airflow pools import {POOLS_FILE.relative_to(REPO)}")
        run_command(["airflow", "pools", "import", str(POOLS_FILE)], self.env, log, REPO, "airflow pools import")

    def _spawn(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        self.processes[name] = start_process(command, env, self.logs / f"{name}.log", REPO)

    def check_alive(self) -> None:
        """Raise ClusterError naming the first component that has exited, with its log's tail."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = self.logs / f"{name}.log"
                raise ClusterError(f"{name} exited with code {process.returncode}; last lines of {log}:\n{tail(log)}")

    def _wait(self, check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with suppress(requests.RequestException, ApiError):
                if check():
                    return
            time.sleep(1)
        raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")

    def _worker_ready(self, name: str) -> bool:
        return " ready." in tail(self.logs / f"{name}.log", 400)

    def _healthy(self) -> bool:
        health = self.client.health()
        parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        return all((health.get(part) or {}).get("status") == "healthy" for part in parts)

    def airflow_components(self) -> dict[str, int]:
        """The leader pid of every running Airflow component (not the emulator), by name."""
        return {name: p.pid for name, p in self.processes.items() if name != "emulator" and p.poll() is None}

    # ---------------------------------------------------------------- stop

    def __exit__(self, *exc: object) -> None:
        """Stop and remove everything; the work folder (logs) stays when ``keep`` or on an exception."""
        started = time.monotonic()
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._stop_processes()
            self._resources.close()
            if self.keep or exc[0] is not None or self.failed:
                say(f"kept the logs in {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.timings["stop"] = time.monotonic() - started
        say(f"cluster stopped and removed ({self.timings['stop']:.1f}s)")

    def _stop_processes(self) -> None:
        """SIGTERM every Airflow component at once (Celery: warm shutdown), then the emulator, then leftovers."""
        airflow = {n: p for n, p in self.processes.items() if n != "emulator" and p.poll() is None}
        threads = [
            threading.Thread(target=stop_group, args=(p.pid, n, signal.SIGTERM, 30.0, p, _quiet), daemon=True)
            for n, p in airflow.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        emulator = self.processes.get("emulator")
        if emulator is not None and emulator.poll() is None:
            stop_group(emulator.pid, "emulator", signal.SIGTERM, 10.0, emulator, _quiet)
        kill_leftovers(self.token, say)


def emulator_command(spec: ClusterSpec, port: int, folder: Path) -> list[str]:
    """``python -m bol_emulator`` for the spec's accounts (written to ``folder/accounts.json`` unless they
    are the demo accounts), world and limits; ``--credential-rate`` is the spec's budget."""
    accounts = "demo"
    if not spec.demo_accounts:
        accounts_file = folder / "accounts.json"
        accounts_file.write_text(json.dumps([a.emulator_entry() for a in spec.accounts], indent=1))
        accounts = str(accounts_file)
    return [
        sys.executable, "-m", "bol_emulator", "--port", str(port), "--accounts", accounts,
        "--seed", str(spec.seed), "--orders-per-day", str(spec.orders_per_day),
        "--history-days", str(spec.history_days), "--token-lifetime", str(spec.token_lifetime),
        "--credential-rate", f"{spec.rate_per_second:g}",
    ]  # fmt: skip


def _quiet(_message: str) -> None:
    """Swallows stop_group's per-process chatter."""


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _postgres_connection(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port or 5432,
        "login": parts.username,
        "schema": parts.path.lstrip("/"),
    }
