"""Celery settings for bolsync's workers: Airflow's defaults, plus the sync code imported once in each worker
before it forks its task processes, so a task starts with pandas, the warehouse drivers and the streams already
loaded (what Airflow's own Celery setup does for its operators and numpy).

Use with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=bolsync.runs.celery_config.CELERY_CONFIG``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

from bolsync.streams.registry import STREAMS

log = logging.getLogger(__name__)

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)

#: What the sync tasks run (``streams.tasks``, the offers tasks), beside each stream's own module.
SYNC_MODULES = (
    "bolsync.runs.account_check",
    "bolsync.streams.steps",
    "bolsync.offers.extract_steps",
    "bolsync.offers.load_steps",
)


def preloaded_modules() -> list[str]:
    """The modules a worker imports before forking: the sync steps and every stream's own functions."""
    return [*SYNC_MODULES, *(spec.module for spec in STREAMS.values() if spec.module)]


@import_modules.connect
def preload_sync_modules(*_args: Any, **_kwargs: Any) -> None:
    """Import :func:`preloaded_modules` in the worker (Celery's ``import_modules`` signal, sent at its start)."""
    for name in preloaded_modules():
        importlib.import_module(name)
    log.info("bolsync: preloaded %d modules in the Celery worker.", len(preloaded_modules()))
