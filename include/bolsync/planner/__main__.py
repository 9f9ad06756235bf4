"""``python -m bolsync.planner --account <conn_id> --from YYYY-MM-DD --to YYYY-MM-DD [--mode probe|history]
[--stream orders|returns|...]``.

Prints the plan; exit code 2 for bad input or a range outside bol's history, 1 when the plan could not be made.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, date, datetime

from bolsync.planner.plan import MODES, PlanInputError, make_plan, parse_request
from bolsync.planner.probe import DayProbe
from bolsync.planner.report import render
from bolsync.planner.streams import stream_plan
from bolsync.runs.sync_hook import SyncHook
from bolsync.streams import registry
from bolsync.streams.registry import STREAMS
from bolsync.warehouse.connection import connect_warehouse, warehouse_target
from bolsync_provider.errors import BolConfigError, BolError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bolsync.planner",
        description="Estimate the API calls and wall time of a backfill before running it.",
    )
    parser.add_argument(
        "--stream", default="orders", choices=list(STREAMS), help="the stream to backfill (default: orders)"
    )
    parser.add_argument("--account", required=True, help="bol_retailer connection id, e.g. bol_retailer_default")
    parser.add_argument("--from", dest="first", required=True, help="first Dutch day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", required=True, help="last Dutch day (inclusive), YYYY-MM-DD")
    parser.add_argument(
        "--mode",
        default="probe",
        choices=MODES,
        help="probe: read a few list pages per day (default); history: no API call, from the warehouse's past volume",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    now = datetime.now(UTC)
    if args.stream != "orders":
        return _plan_stream(args, now)
    try:
        request = parse_request(args.account, args.first, args.last, args.mode, now)
        database = warehouse_target()
        hook = SyncHook(request.account)

        def progress(probe: DayProbe) -> None:
            print(f"probed {probe.day}: {probe.pages} pages ({probe.probe_calls} calls)", file=sys.stderr)

        plan = make_plan(request, now, hook, lambda: connect_warehouse(database), progress)
    except (PlanInputError, BolConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BolError as error:
        print(f"error: the plan could not be made: {error}", file=sys.stderr)
        return 1
    print(render(plan))
    return 0


def _plan_stream(args: argparse.Namespace, now: datetime) -> int:
    """Another stream's plan (its own estimate from the warehouse: no API call)."""
    try:
        first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
        settings = SyncHook(args.account).settings
        with connect_warehouse(warehouse_target()) as conn:
            plan = stream_plan(conn, registry.stream(args.stream), args.account, first, last, now, settings)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BolConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(plan.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
