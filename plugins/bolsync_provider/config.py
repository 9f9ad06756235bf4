"""The one place that reads ``[bolsync]`` settings and reads or writes Airflow Variables.

A ``[bolsync] key`` setting comes from the environment variable ``AIRFLOW__BOLSYNC__<KEY>`` or from
airflow.cfg. Variables are read through the Task SDK inside a task and from the metadata database elsewhere
(CLI commands, scripts). Typed, validated settings are built on these two readers (``bolsync.runs.config``
for the pipeline, ``bolsync_provider.budget.shared_state`` for the shared state URL).
"""

from __future__ import annotations

import os

SECTION = "bolsync"


def setting(key: str) -> str | None:
    """The raw value of ``[bolsync] key`` (None when unset or empty)."""
    value = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}")
    if value is None:
        try:
            from airflow.configuration import conf
        except ImportError:  # outside Airflow (scripts, benchmarks)
            return None
        value = conf.get(SECTION, key, fallback=None)
    return value or None


def airflow_setting(section: str, key: str) -> str:
    """An Airflow setting such as ``[core] executor`` (empty when unset, or outside Airflow)."""
    try:
        from airflow.configuration import conf
    except ImportError:  # outside Airflow (scripts, benchmarks)
        return ""
    return str(conf.get(section, key, fallback="") or "")


def _in_task() -> bool:
    """Inside a task the Task SDK talks to the API server; elsewhere Variables live in the metadata DB."""
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def get_variable(key: str) -> str | None:
    """A Variable's value (None if unset or empty), inside a task or in a CLI/script next to the metadata DB."""
    if _in_task():
        from airflow.sdk import Variable as SdkVariable

        value = SdkVariable.get(key, default=None)
    else:
        from airflow.models.variable import Variable as DbVariable  # no Task SDK outside a task

        value = DbVariable.get(key, default_var=None)
    return str(value) if value not in (None, "") else None


def set_variable(key: str, value: str, description: str) -> None:
    """Write a Variable (Fernet-encrypted at rest when ``[core] fernet_key`` is set)."""
    if _in_task():
        from airflow.sdk import Variable as SdkVariable

        SdkVariable.set(key, value, description=description)
    else:
        from airflow.models.variable import Variable as DbVariable  # no Task SDK outside a task

        DbVariable.set(key, value, description=description)


def fernet_key_configured() -> bool:
    """Whether ``[core] fernet_key`` (or ``AIRFLOW__CORE__FERNET_KEY``) is set: Variables are encrypted at rest."""
    return bool(airflow_setting("core", "fernet_key").strip())
