"""``bol.deletion_holds``: the mass deletions held for confirmation (``runs.evidence``), and telling the operator.

A held list gets an open row. A later full list of the same stream and retailer that is applied resolves every
hold taken at or before it: ``confirmed`` when it needed the confirmation and had it, ``cleared`` when it showed
no mass deletion. Open holds are what a status page or the coverage check report (:func:`open_holds`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bolsync.runs import alert_log, alerts
from bolsync.runs.evidence import DeletionCheck
from bolsync.runs.run_note import add_to_run_note
from bolsync.warehouse.base import Warehouse

log = logging.getLogger(__name__)

TABLE = "bol.deletion_holds"


@dataclass(frozen=True)
class ListRun:
    """Which run took a full list of which account, and when bol's list was taken."""

    conn_id: str
    retailer_id: str
    dag_id: str
    run_id: str
    listed_at: datetime


def settle_holds(conn: Warehouse, check: DeletionCheck, run: ListRun) -> None:
    """Record the hold of a held list, or resolve the open holds an applied list answers (caller's transaction)."""
    now = datetime.now(UTC)
    if check.held:
        e = check.evidence
        conn.execute(
            f"""INSERT INTO {TABLE} (stream, retailer_id, dag_id, run_id, conn_id, source, listed_at, live, named,
                    listed, held, held_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (stream, retailer_id, dag_id, run_id) DO UPDATE SET conn_id = excluded.conn_id,
                    source = excluded.source, listed_at = excluded.listed_at, live = excluded.live,
                    named = excluded.named, listed = excluded.listed, held = excluded.held""",
            [check.stream, run.retailer_id, run.dag_id, run.run_id, run.conn_id, check.what, run.listed_at,
             e.live, e.named, check.listed, e.missing, now],
        )  # fmt: skip
        return
    resolution = "confirmed" if check.needs_confirmation else "cleared"
    resolved = conn.query(
        f"""UPDATE {TABLE} SET resolved_at = ?, resolution = ?, resolved_by_run_id = ?
            WHERE stream = ? AND retailer_id = ? AND resolved_at IS NULL AND listed_at <= ?
            AND NOT (dag_id = ? AND run_id = ?) RETURNING dag_id, run_id, conn_id""",
        [now, resolution, run.run_id, check.stream, run.retailer_id, run.listed_at, run.dag_id, run.run_id],
    )
    keys = [hold_alert_key(check.stream, dag_id, run_id, conn_id) for dag_id, run_id, conn_id in resolved]
    alert_log.clear(conn, reason=f"deletions {resolution} by {run.dag_id} / {run.run_id}", before=now, keys=keys)


def hold_alert_key(stream: str, dag_id: str, run_id: str, conn_id: str) -> str:
    """The key of the alert of one held list (one per run and account)."""
    return f"deletion-hold:{stream}:{dag_id}:{run_id}:{conn_id}"


def open_holds(conn: Warehouse, stream: str | None = None, retailer_id: str | None = None) -> list[dict[str, Any]]:
    """The holds not resolved yet (of one stream and retailer, when given), oldest first."""
    where, params = ["resolved_at IS NULL"], []
    for column, value in (("stream", stream), ("retailer_id", retailer_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    columns = ["stream", "retailer_id", "conn_id", "dag_id", "run_id", "source", "listed_at", "live", "held"]
    rows = conn.query(
        f"SELECT {', '.join(columns)} FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY listed_at", params
    )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def announce_hold(context: Any, check: DeletionCheck, run: ListRun, how_to_confirm: str) -> str:
    """Tell the operator of a held list: a warning in the log, one alert per run and account, and the DAG run's
    note. Returns the message (for the audit row)."""
    message = check.message(run.retailer_id, how_to_confirm)
    log.warning("%s", message)
    ti = context["ti"]
    where = (
        f"Connection: {run.conn_id}\nRetailer: {run.retailer_id}\nDAG run: {run.dag_id} / {run.run_id}\n"
        f"Task: {ti.task_id} (try {ti.try_number})\nLog: {getattr(ti, 'log_url', '')}\n"
    )
    alerts.send(
        alerts.Alert(
            key=hold_alert_key(check.stream, run.dag_id, run.run_id, run.conn_id),
            subject=f"[bolsync] {run.conn_id}: {check.what} would delete {check.evidence.missing} of "
            f"{check.evidence.live} {check.records}; held until confirmed",
            body=f"{where}\nWhat happened, and what to do:\n{message}\n\nThe run itself succeeded; no data was lost.",
        ),
        context,
    )
    add_to_run_note(context, f"{run.conn_id}: {check.summary(run.retailer_id)}")
    return message
