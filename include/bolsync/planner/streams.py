"""A backfill plan of any stream but orders: its own estimate (``StreamSpec.module``'s ``estimate``, from what the
warehouse knows, no API call), the wall time at the connection's limits, and the backfill that runs it.

Orders have the richer planner of ``planner.plan`` (a probe of a few list pages per day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bolsync.planner.plan import PlanInputError, backfill_command
from bolsync.planner.report import duration
from bolsync.streams.spec import CallEstimate, PlanJob, StreamSpec, planner_of
from bolsync.warehouse.base import Warehouse
from bolsync_provider.settings import DEFAULT_ENDPOINT_LIMITS, NUMBERS, BolConnectionSettings


@dataclass(frozen=True)
class StreamPlan:
    """What a backfill of ``first`` .. ``last`` of one stream and account would cost."""

    spec: StreamSpec
    account: str
    first: date
    last: date
    estimate: CallEstimate
    wall_seconds: float

    @property
    def backfill_command(self) -> str:
        return backfill_command(str(self.spec.backfill_dag), self.first, self.last, self.account)

    def render(self) -> str:
        per_endpoint = ", ".join(f"{label}: {count}" for label, count in sorted(self.estimate.calls.items()))
        return "\n".join(
            [
                f"Backfill plan of {self.spec.name} for {self.account}, {self.first} .. {self.last} (Dutch days)",
                f"  API calls: about {self.estimate.total} ({per_endpoint or 'none'})",
                f"  Wall time at the limits: at least {duration(self.wall_seconds)}",
                f"  How: {self.estimate.note}",
                f"  Run it: {self.backfill_command}",
            ]
        )


def stream_plan(
    conn: Warehouse,
    spec: StreamSpec,
    account: str,
    first: date,
    last: date,
    now: datetime,
    settings: BolConnectionSettings | None = None,
) -> StreamPlan:
    """The plan of a backfill of ``spec`` (PlanInputError when the stream cannot be backfilled or planned)."""
    if not spec.keeps_history:
        raise PlanInputError(
            f"bol keeps no history of the {spec.title}: a backfill cannot recreate past days of {spec.name}."
        )
    estimate = planner_of(spec)
    if estimate is None:
        raise PlanInputError(f"the {spec.name} stream has no planner.")
    if last < first:
        raise PlanInputError(f"the last day {last} is before the first {first}.")
    oldest = spec.oldest_served(now)
    if oldest is not None and first < oldest:
        raise PlanInputError(
            f"{first} is older than the history bol keeps of the {spec.title}: bol serves from {oldest}."
        )
    retailer_id = conn.scalar(
        "SELECT max(retailer_id) FROM bol.sync_coverage WHERE stream = ? AND conn_id = ?", [spec.name, account]
    )
    calls = estimate(PlanJob(conn, spec, account, str(retailer_id or ""), first, last, now))
    limits = settings.endpoint_limits if settings else DEFAULT_ENDPOINT_LIMITS
    per_second = settings.rate_limit_per_second if settings else NUMBERS["rate_limit_per_second"].default
    return StreamPlan(spec, account, first, last, calls, calls.wall_seconds(limits, per_second))
