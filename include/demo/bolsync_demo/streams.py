"""The single runs the one-shot demo asks for besides the orders backfill: one run per DAG below, for the last full
interval of its own schedule, so the scheduler sees that interval as run once the DAG is unpaused.

Every stream of the registry (``bolsync.streams.registry``) has a DAG here; a new stream joins the demo with one
line in :data:`SINGLE_RUNS` (and its tables in ``report.TABLES``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: bol's per-endpoint limits are multiplied by this in the demo (the emulator's ``--rate-scale`` and the
#: connections' ``endpoint_rate_limits``): the first scan of returns and shipments reads a detail per record, which
#: at bol's own limits (20 and 50 a minute) takes the demo's accounts many minutes. The 5 requests a second of a
#: credential's budget stay bol's.
RATE_SCALE = 10.0
#: The invoices run names a period (the on-demand form): bol issues invoices once or twice a month, so the last
#: week may hold none.
INVOICE_DAYS = 31


def _no_conf(_now: datetime) -> dict[str, Any]:
    return {}


def invoice_period(now: datetime) -> dict[str, Any]:
    """The invoices issued in the :data:`INVOICE_DAYS` Amsterdam days before today."""
    last: date = now.astimezone(AMSTERDAM).date() - timedelta(days=1)
    first = last - timedelta(days=INVOICE_DAYS - 1)
    return {"period_start": first.isoformat(), "period_end": last.isoformat()}


@dataclass(frozen=True)
class SingleRun:
    """A DAG's schedule as its file declares it (cron and timezone), and the run conf the demo gives it."""

    cron: str
    timezone: str
    conf: Callable[[datetime], dict[str, Any]] = _no_conf

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The last full interval of the schedule before ``now``: [the fire before the last, the last fire)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        cron = croniter(self.cron, local)
        end: datetime = cron.get_prev(datetime)
        start: datetime = cron.get_prev(datetime)
        return start, end


SINGLE_RUNS: dict[str, SingleRun] = {
    "bol_orders_hourly": SingleRun("0 * * * *", "UTC"),
    "bol_offers_daily": SingleRun("0 0 * * *", "Europe/Amsterdam"),
    "bol_returns_hourly": SingleRun("0 * * * *", "UTC"),
    "bol_shipments_hourly": SingleRun("0 * * * *", "UTC"),
    "bol_inventory_daily": SingleRun("0 1 * * *", "Europe/Amsterdam"),
    "bol_invoices": SingleRun("0 0 * * 1", "Europe/Amsterdam", invoice_period),
}


def scaled_limits(scale: float = RATE_SCALE) -> dict[str, list[float]]:
    """bol's per-endpoint limits (the provider's defaults) with ``scale`` times the requests."""
    from bolsync_provider.settings import DEFAULT_ENDPOINT_LIMITS

    return {label: [round(n * scale), seconds] for label, (n, seconds) in DEFAULT_ENDPOINT_LIMITS.items()}
