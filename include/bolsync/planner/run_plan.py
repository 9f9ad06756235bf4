"""What the ``plan_backfill`` task of ``bol_backfill_plan`` runs: the plan its run's params ask for, reported in
the task log and the run note."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bolsync.planner.plan import PlanInputError, make_plan, parse_request
from bolsync.planner.report import render, summary
from bolsync.planner.streams import stream_plan
from bolsync.runs.run_note import add_to_run_note
from bolsync.runs.sync_hook import SyncHook
from bolsync.runs.waiting import waits_outside_the_worker
from bolsync.streams import registry
from bolsync.warehouse.connection import connect_warehouse, warehouse_target
from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)


def plan_for_run(context: Any) -> dict[str, Any]:
    """Plan the backfill the run's params ask for; the plan goes to the task log and the run note."""
    params = context.get("params") or {}
    now = datetime.now(UTC)
    if str(params.get("stream") or "orders") != "orders":
        return _plan_stream(context, params, now)
    try:
        request = parse_request(
            str(params.get("account") or ""), str(params.get("from") or ""), str(params.get("to") or ""),
            str(params.get("mode") or "probe"), now,
        )  # fmt: skip
        database = warehouse_target()
        with waits_outside_the_worker(context):
            plan = make_plan(request, now, SyncHook(request.account), lambda: connect_warehouse(database))
    except (PlanInputError, BolConfigError) as error:
        add_to_run_note(context, f"No plan: {error}")
        raise AirflowFailException(str(error)) from error
    log.info("Backfill plan:\n%s", render(plan))
    add_to_run_note(context, summary(plan))
    return {
        "account": plan.account,
        "from": plan.first.isoformat(),
        "to": plan.last.isoformat(),
        "api_calls": plan.calls,
        "list_calls": plan.list_calls,
        "details": plan.details,
        "wall_seconds": round(plan.wall_seconds),
        "probe_calls": plan.probe_calls,
        "inside_history": plan.inside_history,
        "backfill_command": plan.backfill_command(),
    }


def _plan_stream(context: Any, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Another stream's plan (its own estimate from the warehouse: no API call)."""
    account = str(params.get("account") or "")
    try:
        first, last = date.fromisoformat(str(params.get("from"))), date.fromisoformat(str(params.get("to")))
        settings = SyncHook(account).settings
        with connect_warehouse(warehouse_target()) as conn:
            plan = stream_plan(conn, registry.stream(str(params["stream"])), account, first, last, now, settings)
    except (ValueError, BolConfigError) as error:
        add_to_run_note(context, f"No plan: {error}")
        raise AirflowFailException(str(error)) from error
    log.info("Backfill plan:\n%s", plan.render())
    add_to_run_note(context, plan.render())
    return {
        "stream": plan.spec.name,
        "account": plan.account,
        "from": plan.first.isoformat(),
        "to": plan.last.isoformat(),
        "api_calls": plan.estimate.total,
        "wall_seconds": round(plan.wall_seconds),
        "backfill_command": plan.backfill_command,
    }
