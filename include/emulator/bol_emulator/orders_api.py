"""``GET /retailer/orders`` and ``GET /retailer/orders/{order-id}``: parameters, validation, paging."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime

from bol_emulator import problems
from bol_emulator.model import AMSTERDAM
from bol_emulator.order_faults import OrderFaults
from bol_emulator.page_faults import PageFaults
from bol_emulator.problems import Response
from bol_emulator.world import OrderFilter, World

PAGE_SIZE = 50
HISTORY_MONTHS = 3
METHODS = ("FBR", "FBB", "ALL")
STATUSES = ("OPEN", "SHIPPED", "ALL")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INT_RE = re.compile(r"-?[0-9]{1,18}")


def months_before(day: date, months: int) -> date:
    """``day`` minus whole calendar months, clamped to the month's end (like dateutil's relativedelta)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def oldest_change_date(now: datetime) -> date:
    """The oldest ``latest-change-date`` served at ``now`` (today in Amsterdam minus 3 months)."""
    return months_before(now.astimezone(AMSTERDAM).date(), HISTORY_MONTHS)


def _violation(name: str, reason: str) -> dict[str, str]:
    return {"name": name, "reason": reason}


def _enum(params: dict[str, str], name: str, allowed: tuple[str, ...], default: str, bad: list[dict[str, str]]) -> str:
    value = params.get(name)
    if value is None:
        return default
    if value not in allowed:
        reason = f"Request contains invalid value(s): '{value}', allowed values: {', '.join(allowed)}."
        bad.append(_violation(name, reason))
        return default
    return value


def _int(params: dict[str, str], name: str, low: int, high: int | None, bad: list[dict[str, str]]) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not INT_RE.fullmatch(raw):
        bad.append(_violation(name, f"Request contains invalid value(s): '{raw}', must be an integer."))
        return None
    value = int(raw)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"greater than or equal to {low}"
        bad.append(_violation(name, f"Request contains invalid value(s): '{raw}', must be {bounds}."))
        return None
    return value


def _change_date(raw: str | None, now: datetime, bad: list[dict[str, str]]) -> date | None:
    name = "latest-change-date"
    if raw is None:
        return None
    try:
        if not DATE_RE.fullmatch(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        reason = f"Request contains invalid value(s): '{raw}', expected a date as YYYY-MM-DD."
        bad.append(_violation(name, reason))
        return None
    oldest, today = oldest_change_date(now), now.astimezone(AMSTERDAM).date()
    if day < oldest:
        bad.append(
            _violation(
                name,
                f"Date '{raw}' is too far in the past; up to 3 months of history "
                f"(from {oldest.isoformat()}) is supported.",
            )
        )
    elif day > today:
        bad.append(_violation(name, f"Date '{raw}' lies in the future."))
    return day


def parse_filter(params: dict[str, str], now: datetime) -> tuple[OrderFilter, int, list[dict[str, str]]]:
    """The filter and page of a list request, plus any violations."""
    bad: list[dict[str, str]] = []
    page = _int(params, "page", 1, None, bad) or 1
    method = _enum(params, "fulfilment-method", METHODS, "FBR", bad)
    status = _enum(params, "status", STATUSES, "OPEN", bad)
    interval = _int(params, "change-interval-minute", 1, 60, bad)
    change_date = _change_date(params.get("latest-change-date"), now, bad)
    if "change-interval-minute" in params and "latest-change-date" in params:
        reason = "Use either change-interval-minute or latest-change-date, not both."
        bad.append(_violation("latest-change-date", reason))
    vvb = params.get("vvb-only", "false").lower()
    if vvb not in ("true", "false"):
        reason = f"Request contains invalid value(s): '{params['vvb-only']}', must be a boolean."
        bad.append(_violation("vvb-only", reason))
    flt = OrderFilter(method, status, change_date, interval, vvb == "true")
    return flt, page, bad


def list_orders(
    world: World,
    client_id: str,
    params: dict[str, str],
    instance: str,
    faults: PageFaults | None = None,
    on_fault: Callable[[str], None] | None = None,
    values: OrderFaults | None = None,
) -> Response:
    """One page of ReducedOrders, or ``{}`` past the end; a ``repeat_page`` fault serves the page before it
    (reported to ``on_fault``), ``values`` odd values in some orders."""
    flt, page, violations = parse_filter(params, world.clock.now())
    if violations:
        return problems.bad_request(violations, instance)
    served = faults.served_page(client_id, page) if faults else page
    if served != page and on_fault is not None:
        on_fault("repeat_page")
    orders = world.order_page(client_id, flt, served, PAGE_SIZE)
    if not orders:
        return problems.empty_page()
    return problems.json_response(200, {"orders": values.list_entries(client_id, orders) if values else orders})


def get_order(
    world: World, client_id: str, order_id: str, instance: str, faults: OrderFaults | None = None
) -> Response:
    """One full Order, or a 404 Problem."""
    order = world.order_detail(client_id, order_id)
    if order is None:
        return problems.problem(404, f"Order for order id {order_id} not found.", instance)
    return problems.json_response(200, faults.detail(client_id, order) if faults else order)
