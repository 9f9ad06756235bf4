"""Whether the configured shared state reaches every host that runs tasks.

A SQLite file (the default) or ``memory://`` lives on one host. With an executor that runs tasks on several
hosts (Celery, Kubernetes, Edge, ...), each host would keep its own rate budget and token lease: N hosts send
N times the budget and refresh tokens at the same time. Such a deployment (told by ``[core] executor``, or
by a worker's own signs: a KubernetesExecutor pod, an Edge worker's ``[edge] api_url``) is refused at the
first use of the shared state in a task, with what to set, unless the operator states that every task
runs on one host (``[bolsync] single_host = true``).
"""

from __future__ import annotations

import os

from bolsync_provider.config import SECTION, airflow_setting, setting
from bolsync_provider.errors import BolConfigError

SINGLE_HOST_KEY = "single_host"
#: Executors that run every task on the host of the scheduler; any other may use several hosts.
ONE_HOST_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor", "MockExecutor"})
HOST_LOCAL_SCHEMES = ("sqlite", "memory")


def executor_classes(value: str) -> list[str]:
    """The executor class names of an ``[core] executor`` value.

    Airflow 3 accepts a comma-separated list, each entry a core name (``CeleryExecutor``), a module path
    (``airflow.providers.celery.executors.celery_executor.CeleryExecutor``) or ``alias:name-or-path``, and
    per-team lists after ``;`` (``LocalExecutor;team1=CeleryExecutor``).
    """
    names = []
    for team_part in value.split(";"):
        executors = team_part.split("=", 1)[-1]
        for entry in executors.split(","):
            name = entry.strip().split(":")[-1].strip().rsplit(".", 1)[-1]
            if name:
                names.append(name)
    return names


def multi_host_executors(value: str) -> list[str]:
    """The executors of ``value`` that may run tasks on other hosts than this one."""
    return [name for name in executor_classes(value) if name not in ONE_HOST_EXECUTORS]


def single_host_declared() -> bool:
    """``[bolsync] single_host``: the operator states that every task runs on this one host."""
    raw = setting(SINGLE_HOST_KEY)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise BolConfigError(f"[{SECTION}] {SINGLE_HOST_KEY} must be true or false, got {raw!r}.")


def remote_worker_signs() -> list[str]:
    """Signs that this process is a worker on another host than the scheduler's, whatever the executor says."""
    signs = []
    if os.environ.get("AIRFLOW_IS_K8S_EXECUTOR_POD"):
        signs.append("this task runs in a KubernetesExecutor pod")
    if airflow_setting("edge", "api_url"):
        signs.append("[edge] api_url is set (an Edge worker)")
    return signs


def refuse_host_local_state_on_many_hosts(url: str, configured: bool, executor: str | None = None) -> None:
    """Raise BolConfigError when ``url`` is local to one host and tasks run on several.

    ``configured``: whether ``[bolsync] shared_state_url`` was set (else ``url`` is the default).
    """
    if url.split("://", 1)[0].lower() not in HOST_LOCAL_SCHEMES:
        return
    executor = airflow_setting("core", "executor") if executor is None else executor
    spread = multi_host_executors(executor)
    reasons = [f"[core] executor = {executor!r} ({', '.join(spread)})"] if spread else []
    reasons += remote_worker_signs()
    if not reasons or single_host_declared():
        return
    where = (
        f"[{SECTION}] shared_state_url = {url!r} keeps the shared state on one host"
        if configured
        else f"[{SECTION}] shared_state_url is not set, so the shared state is a SQLite file on each host ({url!r})"
    )
    raise BolConfigError(
        f"{where}, but tasks run on several hosts: {'; '.join(reasons)}. Every host would keep its own rate budget "
        "and token lease, together sending several times the request rate bol allows and refreshing tokens at "
        f"the same time. Set [{SECTION}] shared_state_url (environment variable AIRFLOW__BOLSYNC__SHARED_STATE_URL) "
        "to a Redis or PostgreSQL server every worker reaches, e.g. redis://redis:6379/1 or "
        f"postgresql://user@db-host/bolsync; or, if every task of this deployment runs on this one host, set "
        f"[{SECTION}] {SINGLE_HOST_KEY} = true (AIRFLOW__BOLSYNC__SINGLE_HOST=true)."
    )
