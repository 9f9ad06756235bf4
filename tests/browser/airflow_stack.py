"""The emulator and ``airflow standalone`` for the browser test, started with the demo's machinery.

Everything lives in a temporary folder (AIRFLOW_HOME, the DuckDB warehouse, logs), on free ports, so the
test never touches the demo's ``.airflow/`` or ``data/`` nor a running ``make up``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bolsync_demo.api import TERMINAL_STATES, AirflowClient, emulator_json
from bolsync_demo.cli import (
    ACCOUNTS,
    ADMIN_PASSWORD,
    ADMIN_USER,
    DEMO_CREDENTIALS,
    POOLS_FILE,
    DemoPaths,
    Stack,
    airflow_env,
    start_airflow,
    start_emulator,
    stop_stack,
    write_admin_password,
)
from bolsync_demo.procs import free_port

REPO = Path(__file__).resolve().parents[2]
#: Variables of the test process that must not reach Airflow (set by tests/conftest.py for in-process tests).
NOT_FOR_AIRFLOW = ("AIRFLOW__CORE__UNIT_TEST_MODE", "BOLSYNC_STAGING_DIR", "AIRFLOW__CORE__EXECUTOR")


@dataclass(frozen=True)
class TempPaths(DemoPaths):
    """The demo's layout below a temporary folder instead of the repository."""

    base: Path = Path()

    @property
    def airflow_home(self) -> Path:
        return self.base / "airflow"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"

    @property
    def warehouse(self) -> Path:
        return self.base / "data" / "warehouse.duckdb"


@dataclass
class Airflow:
    """A running stack: the REST client (logged in as admin) and where things are."""

    stack: Stack
    client: AirflowClient

    @property
    def url(self) -> str:
        return self.stack.api_url

    @property
    def emulator_url(self) -> str:
        return self.stack.emulator_url

    @property
    def warehouse(self) -> Path:
        return self.stack.paths.warehouse

    @property
    def logs(self) -> Path:
        return self.stack.paths.run_dir

    def retailer_ids(self) -> dict[str, str]:
        """The emulator's retailer id of each demo connection."""
        by_client = {a["client_id"]: a["retailer_id"] for a in emulator_json(self.emulator_url, "/_emulator/accounts")}
        return {conn_id: by_client[client_id] for conn_id, (client_id, _) in DEMO_CREDENTIALS.items()}

    def truth(self, conn_id: str) -> list[dict[str, Any]]:
        """The emulator's ground truth: every order item of the connection's account, at its current state."""
        client_id = DEMO_CREDENTIALS[conn_id][0]
        rows: list[dict[str, Any]] = emulator_json(
            self.emulator_url, f"/_emulator/accounts/{client_id}/order-items", timeout=30
        )
        return rows

    def wait_for_runs(self, dag_id: str, timeout: float, **filters: Any) -> list[dict[str, Any]]:
        """Poll the REST API until the DAG's runs matching ``filters`` exist and have all finished."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.client.dag_runs(dag_id, **filters)
            if runs and all(run["state"] in TERMINAL_STATES for run in runs):
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(f"{dag_id} runs {filters} not finished after {timeout:.0f}s: {self.states(runs)}")
            time.sleep(2)

    def states(self, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """Each run's state and its task instances' states (with try numbers), for failure messages."""
        return {
            run["dag_run_id"]: (
                run["state"],
                sorted(
                    f"{ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']}"
                    for ti in self.client.task_instances(run["dag_id"], run["dag_run_id"])
                ),
            )
            for run in runs
        }


def stack_env(stack: Stack, environ: dict[str, str]) -> dict[str, str]:
    """The demo's Airflow environment, plus the connection the product writes DAG run notes through."""
    env = {k: v for k, v in airflow_env(stack).items() if k not in NOT_FOR_AIRFLOW}
    env["AIRFLOW__API__WORKERS"] = "1"
    env.update(environ)
    env["AIRFLOW_CONN_BOLSYNC_AIRFLOW_API"] = json.dumps(
        {"conn_type": "http", "host": stack.api_url, "login": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    return env


def create_pools(client: AirflowClient, pools_file: Path) -> None:
    """The shipped pools, through the REST API (``airflow standalone`` migrates the database itself, so the test
    saves the demo's two CLI starts; the DAG stays paused until the backfill, so no task runs before)."""
    for name, pool in json.loads(pools_file.read_text()).items():
        client.request("POST", "/pools", f"create pool {name}", json={"name": name, **pool})


def warm_up_execution_api(api_url: str, timeout: float = 180.0) -> None:
    """Build the execution API's versioned routes now, not during the first task's start.

    The API server builds them on the first request to ``/execution/`` (several seconds of CPU, tens on a busy
    machine, blocking its workers); a task whose start call times out meanwhile fails and waits out a retry.
    """
    response = requests.get(f"{api_url}/execution/health", timeout=timeout)
    response.raise_for_status()


@contextmanager
def running_airflow(base: Path, **environ: str) -> Iterator[Airflow]:
    """Start the emulator and Airflow below ``base``; stop both (and anything they left) afterwards."""
    paths = TempPaths(repo=REPO, base=base)
    for folder in (paths.run_dir, paths.airflow_home, paths.warehouse.parent):
        folder.mkdir(parents=True, exist_ok=True)
    stack = Stack(paths, api_port=free_port(), emulator_port=free_port())
    stack.env = stack_env(stack, environ)
    try:
        write_admin_password(paths)
        start_emulator(stack)
        client = start_airflow(stack)
        create_pools(client, REPO / POOLS_FILE)
        warm_up_execution_api(stack.api_url)
        yield Airflow(stack, client)
    finally:
        stop_stack(stack)


__all__ = ["ACCOUNTS", "Airflow", "running_airflow"]
