"""One bol.sync_runs row per task try, and the alert when a try fails in a way that needs a human.

The try's row also carries the alert rows this process queued (``alert_log``); a load that succeeds records
its window (``coverage``) and clears the alerts it resolves.
A try that bol makes wait longer than a worker is held (``runs.waiting``) is recorded as ``waiting`` (with
when it resumes), not alerted; its resumed execution then records the try's outcome in the same row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bolsync.runs import alert_log, alerts
from bolsync.runs.coverage import record_coverage, stream_of
from bolsync.runs.run_note import add_to_run_note
from bolsync.runs.waiting import WAITING, ResumeWith, waits_outside_the_worker
from bolsync.warehouse.connection import Warehouse, WarehouseTarget, connect_warehouse
from bolsync_provider import stats
from bolsync_provider.errors import BolAuthError, BolClientError, BolConfigError, BolResponseError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.redaction import redact

log = logging.getLogger(__name__)

#: Errors a retry cannot fix (configuration, auth, 4xx, malformed data): fail at once, no Airflow retries.
FATAL_ERRORS = (BolConfigError, BolAuthError, BolClientError, BolResponseError)


@contextmanager
def audited(
    context: Any,
    database: WarehouseTarget,
    audit: dict[str, Any],
    hook: BolRetailerHook | None,
    *,
    covers_window: bool = True,
    resume: ResumeWith | None = None,
    step: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Record the try whatever happens; make fatal errors fail fast; alert when a human must act.

    ``step``: the block is one step (``check_auth``, ``extract``, ``load``) of a task that runs several; its row
    is named as that step of the task's group (:func:`audit_task_id`), so each step keeps a row of its own.

    A load try that succeeds also records the window it covered (``runs.coverage``), unless ``covers_window``
    is False or the block set ``audit["covered"] = False`` (its data may be incomplete: the coverage check then
    reports the window as a hole). A long wait
    frees the worker (``resume``: where a deferrable operator continues, see ``runs.waiting``).
    """
    started = datetime.now(UTC)
    audit.setdefault("stream", stream_of(context))
    status, error_text = "success", audit.get("error")
    try:
        with waits_outside_the_worker(context, resume):
            yield audit
    except WAITING as waiting:
        status, error_text = "waiting", redact(f"{type(waiting.__cause__).__name__}: {waiting.__cause__}")
        raise
    except FATAL_ERRORS as error:
        status, error_text = "failed", f"{type(error).__name__}: {error}"
        _alert(error, context, audit, final=True)
        add_to_run_note(context, f"{audit['conn_id']}: {error_text}")  # what a rerun cannot fix, shown in the UI
        raise AirflowFailException(str(error)) from error
    except Exception as error:
        status, error_text = "failed", redact(f"{type(error).__name__}: {error}")
        ti = context["ti"]
        # An AirflowFailException (e.g. a failed data-quality check) is never retried: this try is the last.
        final = isinstance(error, AirflowFailException) or ti.try_number > (getattr(ti, "max_tries", 0) or 0)
        _alert(error, context, audit, final=final)
        raise
    else:
        covered = covers_window and audit.get("covered") is not False
        if covered and audit_task_id(context, step).endswith("load"):
            _retrying(lambda: _insert_coverage(database, context, audit, started), "bol.sync_coverage row")
    finally:
        row = {
            **audit,
            **(hook.metrics.as_dict() if hook else {}),
            "status": status,
            "error": error_text or audit.get("error"),
        }
        _write_audit(context, database, row, started, step)
        stats.rows_landed_from(row)


def _alert(error: BaseException, context: Any, audit: dict[str, Any], final: bool) -> None:
    alert = alerts.failure_alert(
        error, conn_id=audit["conn_id"], retailer_id=audit.get("retailer_id"), context=context, final=final
    )
    if alert is not None:
        alerts.send(alert, context)


def audit_task_id(context: Any, step: str | None) -> str:
    """The ``task_id`` of an audit row: the task's own, or for a ``step`` that step in the task's group
    (``sync_account.sync`` -> ``sync_account.extract``)."""
    task_id = str(context["ti"].task_id)
    if step is None:
        return task_id
    group, _, _ = task_id.rpartition(".")
    return f"{group}.{step}" if group else step


def _write_audit(
    context: Any, database: WarehouseTarget, row: dict[str, Any], started: datetime, step: str | None
) -> None:
    ti = context["ti"]
    full = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": audit_task_id(context, step),
        "map_index": ti.map_index if ti.map_index is not None else -1,
        "try_number": ti.try_number,
        **row,
        "started_at": started,
        "finished_at": datetime.now(UTC),
    }
    _retrying(lambda: _insert_audit(database, full))


def _insert_audit(database: WarehouseTarget, row: dict[str, Any]) -> None:
    with connect_warehouse(database) as conn:
        record_sync_run(conn, row)
        alert_log.write_pending_quietly(conn)


def _insert_coverage(database: WarehouseTarget, context: Any, audit: dict[str, Any], started: datetime) -> None:
    with connect_warehouse(database) as conn:
        record_coverage(conn, context, audit)
        alert_log.clear_after_load(conn, context, audit["conn_id"], stream_of(context), started)


def _retrying(action: Callable[[], None], what: str = "sync_runs audit row", attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        try:
            action()
            return
        except Exception as error:  # the audit row must never hide the task's own outcome
            if attempt == attempts:
                log.error("Could not write the %s: %s", what, error)
                return
            time.sleep(attempt)


def record_sync_run(conn: Warehouse, row: Mapping[str, Any]) -> None:
    """Write (or, for the same task try, replace) one bol.sync_runs row."""
    columns = list(row)
    placeholders = ", ".join("?" for _ in columns)
    keys = {"dag_id", "run_id", "task_id", "map_index", "try_number"}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    conn.execute(
        f"""INSERT INTO bol.sync_runs ({", ".join(columns)}) VALUES ({placeholders})
            ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET {updates}""",
        list(row.values()),
    )
