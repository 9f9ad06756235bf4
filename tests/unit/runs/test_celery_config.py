"""The Celery settings bolsync's workers start with: Airflow's own, and the sync code imported before the
worker forks its task processes."""

from __future__ import annotations

import subprocess
import sys

from bolsync.streams.registry import STREAMS


def test_the_settings_are_airflows_and_the_preload_covers_every_stream() -> None:
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from bolsync.runs.celery_config import CELERY_CONFIG, preloaded_modules

    assert CELERY_CONFIG == DEFAULT_CELERY_CONFIG
    modules = preloaded_modules()
    assert "bolsync.streams.steps" in modules
    assert {spec.module for spec in STREAMS.values() if spec.module} <= set(modules)


def test_celerys_import_modules_signal_loads_the_sync_code() -> None:
    code = (
        "import sys\n"
        "from celery.signals import import_modules\n"
        "import bolsync.runs.celery_config\n"
        "before = 'bolsync.streams.steps' in sys.modules or 'pandas' in sys.modules\n"
        "import_modules.send(sender=None)\n"
        "after = [m in sys.modules for m in ('bolsync.streams.steps', 'pandas', 'bolsync.orders.stream')]\n"
        "print(before, *after)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split()[-4:] == ["False", "True", "True", "True"]
