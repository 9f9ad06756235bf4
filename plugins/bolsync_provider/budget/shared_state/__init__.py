"""State that every task, process and worker using a credential shares: rate slots, pauses, locks.

Chosen by one setting, ``[bolsync] shared_state_url`` in airflow.cfg or the environment variable
``AIRFLOW__BOLSYNC__SHARED_STATE_URL``:

- ``sqlite:////path/file.sqlite`` (default: ``$AIRFLOW_HOME/bolsync/shared_state.sqlite``): one host,
  no extra service; right for the LocalExecutor and for the demo. Refused with an executor that runs
  tasks on several hosts unless ``[bolsync] single_host = true``, and on a network filesystem.
- ``redis://host:6379/0`` or ``postgresql://user@host/db``: several hosts (Celery, Kubernetes workers).
- ``memory://``: this process only (unit tests; the benchmarks' naive baseline).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from bolsync_provider.budget.shared_state.base import SharedState, leased
from bolsync_provider.budget.shared_state.placement import refuse_host_local_state_on_many_hosts
from bolsync_provider.budget.shared_state.planning import Reservation, WindowLimit
from bolsync_provider.config import SECTION as CONFIG_SECTION
from bolsync_provider.config import setting
from bolsync_provider.errors import BolConfigError

__all__ = ["Reservation", "SharedState", "WindowLimit", "leased", "open_shared_state", "shared_state"]

CONFIG_KEY = "shared_state_url"

_states: dict[str, SharedState] = {}
_states_lock = threading.Lock()


def configured_url() -> str:
    """The configured backend URL, or the default SQLite file under AIRFLOW_HOME."""
    url = setting(CONFIG_KEY)
    if url:
        return url
    return default_url()


def default_url() -> str:
    """The SQLite file used when ``shared_state_url`` is not set: ``$AIRFLOW_HOME/bolsync/shared_state.sqlite``."""
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return f"sqlite:///{(home / 'bolsync' / 'shared_state.sqlite').absolute()}"


def open_shared_state(url: str) -> SharedState:
    """A new backend for ``url``; raises BolConfigError naming the accepted forms."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        from bolsync_provider.budget.shared_state.memory import MemorySharedState

        return MemorySharedState()
    if scheme == "sqlite":
        from bolsync_provider.budget.shared_state.sql import SqliteSharedState

        path = url.split("://", 1)[1]
        if not path.startswith("//") or len(path) < 3:
            raise BolConfigError(
                f"shared_state_url {url!r}: use sqlite:////absolute/path/file.sqlite (four slashes: an absolute path)."
            )
        return SqliteSharedState(Path(path[1:]))
    if scheme in ("redis", "rediss", "unix"):
        from bolsync_provider.budget.shared_state.redis_backend import RedisSharedState

        return RedisSharedState(url)
    if scheme in ("postgresql", "postgres"):
        from bolsync_provider.budget.shared_state.sql import PostgresSharedState

        return PostgresSharedState(url.replace("postgres://", "postgresql://", 1))
    raise BolConfigError(
        f"[{CONFIG_SECTION}] {CONFIG_KEY} = {url.split('@')[-1]!r} is not supported: use sqlite:////path, "
        "redis://host:port/db, postgresql://user@host/db or memory://."
    )


def shared_state() -> SharedState:
    """The process-wide backend of the configured URL (opened once per process).

    Raises BolConfigError, naming the setting, when that backend lives on one host and the executor runs
    tasks on several (see :mod:`placement`): the first task of such a deployment fails with it.
    """
    url = configured_url()
    with _states_lock:
        state = _states.get(url)
        if state is None:
            refuse_host_local_state_on_many_hosts(url, configured=setting(CONFIG_KEY) is not None)
            state = _states[url] = open_shared_state(url)
        return state
