"""``python -m bolsync.replay``: reload a date range of a DAG from the raw archive, without calling bol.

    python -m bolsync.replay --dag bol_orders_daily --from 2026-11-01 --to 2026-11-07 [--account CONN_ID]

Days are Amsterdam calendar days, inclusive. The warehouse is the ``bol_warehouse`` connection's (or
``--warehouse``: a DuckDB file or a ``postgresql://`` URI), the archive ``[bolsync] archive_url``'s (or
``--archive``). See ``bolsync.archive.replay``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date

from bolsync.archive.location import archive_location, location_of
from bolsync.archive.replay import STREAMS, ReplayError, replay
from bolsync.warehouse.connection import as_target, warehouse_target
from bolsync_provider.errors import BolConfigError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bolsync.replay", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dag", required=True, help="the DAG whose archived runs to replay, e.g. bol_orders_daily")
    parser.add_argument("--from", dest="first", required=True, type=_day, help="first day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="last", required=True, type=_day, help="last day, inclusive (YYYY-MM-DD)")
    parser.add_argument("--account", help="one bol_retailer connection id (default: every archived account)")
    parser.add_argument(
        "--stream", choices=list(STREAMS), help="the stream the DAG syncs (default: the one that names the DAG)"
    )
    parser.add_argument("--warehouse", help="a DuckDB file or postgresql:// URI (default: connection bol_warehouse)")
    parser.add_argument("--archive", help="the archive folder or fsspec URL (default: [bolsync] archive_url)")
    parser.add_argument(
        "--confirm-deletions",
        "--confirm-empty",
        dest="confirm_deletions",
        action="store_true",
        help="offers: apply the deletions of a full list even when they are out of proportion (an empty list, or "
        "more than [bolsync] mass_deletion_percent %% and mass_deletion_count of the live offers)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        target = as_target(args.warehouse) if args.warehouse else warehouse_target()
        location = location_of(args.archive) if args.archive else archive_location(target.staging_anchor)
        if location is None:
            raise ReplayError("the raw archive is off ([bolsync] archive_url = off); pass --archive to read one.")
        done = replay(
            target,
            location,
            args.dag,
            args.first,
            args.last,
            conn_id=args.account,
            stream=args.stream,
            confirm_deletions=args.confirm_deletions,
        )
    except (ReplayError, BolConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for account in done:
        counts = ", ".join(f"{k} {v}" for k, v in account.counts.items())
        print(f"{account.conn_id} (retailer {account.retailer_id}): {account.runs} runs replayed; {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
