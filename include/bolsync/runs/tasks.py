"""The tasks every stream's DAG starts with: which accounts to sync, and one auth check per account."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from bolsync.runs import config
from bolsync.runs.audit import audited
from bolsync.runs.freshness import alert_if_stale
from bolsync.runs.sync_hook import SyncHook
from bolsync.warehouse.connection import warehouse_target
from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)


@task
def list_accounts() -> list[str]:
    """The connection ids to sync in this run."""
    context = get_current_context()
    try:
        return config.accounts(context.get("params"))
    except BolConfigError as error:
        raise AirflowFailException(str(error)) from error


@task(map_index_template="{{ account_label }}")
def check_auth(conn_id: str) -> str:
    """Start of each run: one cheap auth check (a cached token costs no request) and the freshness check.

    A broken credential thus fails here once, clearly and with one alert, instead of in every task.
    """
    context = get_current_context()
    label_task(context, conn_id)
    database = warehouse_target()
    hook = SyncHook(conn_id)
    audit: dict[str, Any] = {"conn_id": conn_id}
    with audited(context, database, audit, hook):
        alert_if_stale(context, database, conn_id)
        audit["retailer_id"] = hook.get_retailer_id()
        log.info("Connection '%s' authenticates as retailer %s.", conn_id, audit["retailer_id"])
    return conn_id


def label_task(context: Any, conn_id: str) -> None:
    """Name the mapped task instance after its account in the UI (``map_index_template``)."""
    context["account_label"] = conn_id
