"""The tasks of ``bol_retention``: purge the personal store and the raw archive (``retention.purges``, imported
when a task runs), each try recorded in ``bol.retention_purges``."""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task

from bolsync.runs.defaults import WAREHOUSE_POOL


@task(pool=WAREHOUSE_POOL)
def purge_personal_store() -> dict[str, Any]:
    """Clear contact details past their retention and delete rows past the fiscal retention, every retailer."""
    from bolsync.retention import purges

    return purges.purge_personal_store(get_current_context())


@task
def purge_raw_archive() -> dict[str, Any]:
    """Remove the archived API responses past their retention (opted-in accounts' sooner, by their policy)."""
    from bolsync.retention import purges

    return purges.purge_raw_archive(get_current_context())
