"""A backfill plan of ``bol_orders_daily`` for one account and a range of Dutch days.

Two ways to estimate each day: ``probe`` reads a few order-list pages per day (see ``probe``) and checks the
sampled order ids against the warehouse; ``history`` makes no API call and takes the account's daily order
volume from the warehouse (the nightly coverage check uses it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from bolsync.orders.load import known_order_ids
from bolsync.planner.estimate import DayEstimate, Limits, estimate_days, list_calls, wall_seconds
from bolsync.planner.modes import MODES, Mode
from bolsync.planner.probe import DayProbe, probe_day
from bolsync.runs.windows import AMSTERDAM, oldest_allowed_date
from bolsync.warehouse.connection import Warehouse
from bolsync_provider.hooks.bol_retailer import ORDER_ENDPOINT, ORDER_PAGE_SIZE, ORDERS_ENDPOINT, BolRetailerHook
from bolsync_provider.settings import DEFAULT_ENDPOINT_LIMITS, NUMBERS, BolConnectionSettings

log = logging.getLogger(__name__)

DAG_ID = "bol_orders_daily"
#: Days of warehouse history the ``history`` mode averages the daily order volume over.
HISTORY_SAMPLE_DAYS = 28
BUDGET_SOURCE = (
    "the configured hourly budget, less this account's calls of the last hour in bol.sync_runs (the shared "
    "budget keeps reservations, not a remaining-capacity figure)"
)


HISTORY_NOTE = (
    f"Estimated from the warehouse (the account's mean orders per day over the last {HISTORY_SAMPLE_DAYS} days "
    "with data), without API calls; details assume none of these orders is stored yet (an upper bound)."
)

NO_HISTORY_NOTE = (
    f"The warehouse holds no orders of this account changed in the last {HISTORY_SAMPLE_DAYS} days, so the history "
    "estimate counts list calls only: plan with --mode probe (mode 'probe' in the DAG) for a real estimate."
)


class PlanInputError(ValueError):
    """A request the planner cannot plan; the message says what to change."""


@dataclass(frozen=True)
class PlanRequest:
    """An account and an inclusive range of Dutch days."""

    account: str
    first: date
    last: date
    mode: Mode = "probe"


def parse_request(account: str, first: str, last: str, mode: str, now: datetime) -> PlanRequest:
    """A validated request; PlanInputError names the bad input and what is accepted."""
    if not account or not account.strip():
        raise PlanInputError("--account is empty: give the bol_retailer connection id to plan for.")
    days = []
    for name, text in (("--from", first), ("--to", last)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except (AttributeError, ValueError):
            raise PlanInputError(f"{name} {text!r} is not a date: use YYYY-MM-DD (a Dutch calendar day).") from None
    if mode not in MODES:
        raise PlanInputError(f"mode {mode!r} is not supported: use {' or '.join(MODES)}.")
    request = PlanRequest(account.strip(), days[0], days[1], mode)  # type: ignore[arg-type]
    today = now.astimezone(AMSTERDAM).date()
    if request.first > request.last:
        raise PlanInputError(f"--from {request.first} is after --to {request.last}: swap them.")
    if request.last > today:
        raise PlanInputError(
            f"--to {request.last} lies in the future (today is {today} in Amsterdam): plan up to {today} at most."
        )
    return request


def check_inside_history(request: PlanRequest, now: datetime) -> None:
    """PlanInputError when the range starts before the first day bol still serves."""
    oldest = oldest_allowed_date(now)
    if request.first >= oldest:
        return
    if request.last < oldest:
        raise PlanInputError(
            f"{request.first} .. {request.last} lies wholly outside bol's 3 months of order history: the first "
            f"day bol still serves is {oldest}. These days cannot be backfilled any more."
        )
    raise PlanInputError(
        f"{request.first} .. {request.last} starts outside bol's 3 months of order history: the first day bol "
        f"still serves is {oldest}. Plan --from {oldest} --to {request.last} instead."
    )


@dataclass
class BackfillPlan:
    """The estimate of one backfill; ``probe_calls``: what making the estimate cost."""

    account: str
    retailer_id: str
    first: date
    last: date
    mode: Mode
    oldest_served: date
    limits: Limits
    days: list[DayEstimate] = field(default_factory=list)
    probe_calls: int = 0
    dag_id: str = DAG_ID
    notes: list[str] = field(default_factory=list)

    @property
    def list_calls(self) -> int:
        return sum(d.list_calls for d in self.days)

    @property
    def details(self) -> int:
        return sum(d.details for d in self.days)

    @property
    def calls(self) -> int:
        return self.list_calls + self.details

    @property
    def wall_seconds(self) -> float:
        return wall_seconds(self.list_calls, self.details, self.limits)

    @property
    def inside_history(self) -> bool:
        return self.first >= self.oldest_served

    def backfill_command(self) -> str:
        return backfill_command(self.dag_id, self.first, self.last, self.account)


def backfill_command(dag_id: str, first: date, last: date, account: str | None = None) -> str:
    """The CLI that backfills the Dutch days ``first`` .. ``last`` (logical dates = Amsterdam midnights)."""
    conf = f' --dag-run-conf \'{{"accounts": ["{account}"]}}\'' if account else ""
    return (
        f"airflow backfill create --dag-id {dag_id} --from-date {amsterdam_midnight(first).isoformat()} "
        f"--to-date {amsterdam_midnight(last).isoformat()}{conf}"
    )


def amsterdam_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), AMSTERDAM)


def limits_of(settings: BolConnectionSettings | None, used_last_hour: int = 0) -> Limits:
    """The connection's limits; bol's defaults without settings."""
    if settings is None:
        endpoints: Mapping[str, tuple[int, float]] = DEFAULT_ENDPOINT_LIMITS
        per_second, per_hour = NUMBERS["rate_limit_per_second"].default, NUMBERS["rate_limit_per_hour"].default
    else:
        endpoints = settings.endpoint_limits
        per_second, per_hour = settings.rate_limit_per_second, settings.rate_limit_per_hour
    return Limits(
        per_second=per_second,
        per_hour=int(per_hour),
        order_list=endpoints.get(ORDERS_ENDPOINT, (25, 60.0)),
        order_detail=endpoints.get(ORDER_ENDPOINT, (25, 1.0)),
        used_last_hour=used_last_hour,
    )


def calls_last_hour(conn: Warehouse, account: str, now: datetime) -> int:
    """API calls this account's task tries recorded in bol.sync_runs during the last hour."""
    value = conn.scalar(
        "SELECT sum(api_calls) FROM bol.sync_runs WHERE conn_id = ? AND finished_at >= ?",
        [account, now - timedelta(hours=1)],
    )
    return int(value or 0)


def request_days(request: PlanRequest) -> list[date]:
    return [request.first + timedelta(days=n) for n in range((request.last - request.first).days + 1)]


def make_plan(
    request: PlanRequest,
    now: datetime,
    hook: BolRetailerHook,
    connect: Callable[[], Any],
    progress: Callable[[DayProbe], None] | None = None,
) -> BackfillPlan:
    """Estimate the backfill of ``request`` (see the module docstring); ``connect()`` opens the warehouse."""
    check_inside_history(request, now)
    with connect() as conn:
        used = calls_last_hour(conn, request.account, now)
    retailer_id = hook.get_retailer_id()
    plan = BackfillPlan(
        account=request.account,
        retailer_id=retailer_id,
        first=request.first,
        last=request.last,
        mode=request.mode,
        oldest_served=oldest_allowed_date(now),
        limits=limits_of(hook.settings, used),
    )
    if request.mode == "probe":

        def stored(ids: set[str]) -> set[str]:
            with connect() as conn:
                return known_order_ids(conn, retailer_id, ids)

        probes = _probe(request, hook, stored, progress)
        plan.days = estimate_days(probes, stored({i for p in probes for i in p.sample_ids}))
        plan.probe_calls = sum(p.probe_calls for p in probes)
    else:
        with connect() as conn:
            plan.days = history_estimate(conn, retailer_id, request_days(request), now)
        plan.notes.append(HISTORY_NOTE if plan.days[0].orders else NO_HISTORY_NOTE)
    if request.first <= plan.oldest_served + timedelta(days=1):
        plan.notes.append(
            f"{request.first} is within a day of bol's history limit ({plan.oldest_served} today): start the "
            "backfill today, oldest day first, or that day is no longer served."
        )
    if request.last >= now.astimezone(AMSTERDAM).date():
        plan.notes.append(f"{request.last} is today: its list still grows, and its daily run starts after midnight.")
    return plan


def history_plan(
    conn: Warehouse,
    account: str,
    retailer_id: str,
    days: tuple[date, date],
    now: datetime,
    settings: BolConnectionSettings | None = None,
) -> BackfillPlan:
    """The ``history`` estimate of the Dutch days ``days`` (first, last) on an open warehouse connection.

    No API call and no token: the limits come from the connection's settings (bol's defaults without them).
    """
    first, last = days
    plan = BackfillPlan(
        account=account,
        retailer_id=retailer_id,
        first=first,
        last=last,
        mode="history",
        oldest_served=oldest_allowed_date(now),
        limits=limits_of(settings, calls_last_hour(conn, account, now)),
    )
    plan.days = history_estimate(conn, retailer_id, request_days(PlanRequest(account, first, last)), now)
    plan.notes.append(HISTORY_NOTE if plan.days[0].orders else NO_HISTORY_NOTE)
    return plan


def _probe(
    request: PlanRequest,
    hook: BolRetailerHook,
    known: Callable[[set[str]], set[str]],
    progress: Callable[[DayProbe], None] | None,
) -> list[DayProbe]:
    probes = []
    for day in request_days(request):
        probe = probe_day(day, partial(_day_page, hook, day.isoformat()), known)
        probes.append(probe)
        if progress:
            progress(probe)
    return probes


def _day_page(hook: BolRetailerHook, day: str, page: int) -> list[dict[str, Any]]:
    """Page ``page`` of the day's list: the query the daily extract makes (``orders.queries``)."""
    return hook.get_orders_page(page, latest_change_date=day)


def history_estimate(conn: Warehouse, retailer_id: str, days: Sequence[date], now: datetime) -> list[DayEstimate]:
    """Each day at the account's mean orders per Dutch day (by the items' latest change) over the last
    ``HISTORY_SAMPLE_DAYS`` days that have any; no API call. Details: every order (none assumed stored)."""
    since = now - timedelta(days=HISTORY_SAMPLE_DAYS)
    rows = conn.query(
        "SELECT order_id, latest_changed_at FROM bol.order_items WHERE retailer_id = ? AND latest_changed_at >= ?",
        [retailer_id, since],
    )
    per_day: dict[date, set[str]] = {}
    for order_id, changed in rows:
        per_day.setdefault(changed.astimezone(AMSTERDAM).date(), set()).add(str(order_id))
    mean = sum(len(ids) for ids in per_day.values()) / len(per_day) if per_day else 0.0
    orders = math.ceil(mean)
    pages = math.ceil(orders / ORDER_PAGE_SIZE)
    last = orders - (pages - 1) * ORDER_PAGE_SIZE if pages else 0
    return [DayEstimate(day, pages, orders, list_calls(pages, last), orders) for day in days]
