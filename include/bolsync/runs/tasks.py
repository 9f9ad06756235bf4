"""The tasks every stream's DAG starts with: which accounts to sync, and (for the offers DAG) one auth check per
account. Light to import: what the tasks run is imported when they run, not when the DAG file is parsed."""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task
from airflow.sdk.exceptions import AirflowFailException


@task
def list_accounts() -> list[str]:
    """The connection ids to sync in this run."""
    from bolsync.runs import config
    from bolsync_provider.errors import BolConfigError

    context = get_current_context()
    try:
        return config.accounts(context.get("params"))
    except BolConfigError as error:
        raise AirflowFailException(str(error)) from error


@task(map_index_template="{{ account_label }}")
def check_auth(conn_id: str) -> str:
    """One auth check and the freshness check for ``conn_id`` (see ``runs.account_check``)."""
    from bolsync.runs.account_check import authenticate

    context = get_current_context()
    label_task(context, conn_id)
    authenticate(context, conn_id)
    return conn_id


def label_task(context: Any, conn_id: str) -> None:
    """Name the mapped task instance after its account in the UI (``map_index_template``)."""
    context["account_label"] = conn_id
