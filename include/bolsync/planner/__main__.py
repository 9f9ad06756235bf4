"""``python -m bolsync.planner --account <conn_id> --from YYYY-MM-DD --to YYYY-MM-DD [--mode probe|history]``.

Prints the plan; exit code 2 for bad input or a range outside bol's history, 1 when the plan could not be made.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from bolsync.planner.plan import MODES, PlanInputError, make_plan, parse_request
from bolsync.planner.probe import DayProbe
from bolsync.planner.report import render
from bolsync.warehouse.connection import connect_warehouse, warehouse_target
from bolsync_provider.errors import BolConfigError, BolError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bolsync.planner",
        description="Estimate the API calls and wall time of a bol_orders_daily backfill before running it.",
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
    try:
        request = parse_request(args.account, args.first, args.last, args.mode, now)
        database = warehouse_target()
        hook = BolRetailerHook(request.account)

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


if __name__ == "__main__":
    sys.exit(main())
