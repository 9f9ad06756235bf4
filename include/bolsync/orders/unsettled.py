"""The alert for a window whose order list never settled while it was paged: its data may be incomplete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bolsync.orders.extract import MAX_SETTLE_PASSES
from bolsync.orders.spec import SPEC
from bolsync.planner.plan import backfill_command
from bolsync.runs.alerts import Alert
from bolsync.runs.windows import SyncWindow

#: The kind of the alert, and the prefix of its key.
UNSETTLED = "unsettled"


def unsettled_key(conn_id: str, window: SyncWindow) -> str:
    """The alert's key: the stream, the account and the window, so the coverage check can clear it once a later
    load covers the window."""
    return f"{UNSETTLED}:{SPEC.name}:{conn_id}:{window.start.isoformat()}/{window.end.isoformat()}"


def window_of_key(key: str) -> SyncWindow | None:
    """The window an unsettled alert's key names (None for a key of another shape)."""
    try:
        start, end = key.split(":", 3)[3].split("/")
        return SyncWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
    except (IndexError, ValueError):
        return None


def unsettled_alert(conn_id: str, retailer_id: str, window: SyncWindow, queries: Sequence[str], context: Any) -> Alert:
    """What happened to the window, that it is not recorded as covered, and the backfill that fills it."""
    ti = context["ti"]
    days = window.amsterdam_dates()
    dag_id = str(SPEC.backfill_dag)
    span = f"{window.start.isoformat()} .. {window.end.isoformat()}"
    return Alert(
        key=unsettled_key(conn_id, window),
        subject=f"[bolsync] orders of {conn_id}: window {span} may be incomplete (the order list kept changing)",
        body=f"Connection: {conn_id}\nRetailer: {retailer_id}\nDAG run: {ti.dag_id} / {ti.run_id}\n"
        f"Window: {span}\n\nWhat happened:\nThe order list of {', '.join(queries)} kept changing while it was "
        f"paged: {MAX_SETTLE_PASSES} settle passes re-reading its pages each found orders not listed before, so "
        "orders of this window may be missing. What was listed has been loaded.\n\n"
        "What to do:\nThe window is not recorded as covered (bol.sync_coverage), so the nightly coverage check "
        f"reports it as a hole until a run covers it; the {dag_id} run of its day does (reruns are "
        f"idempotent). To fill it now: {backfill_command(dag_id, days[0], days[-1], conn_id)}",
    )
