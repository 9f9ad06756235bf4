"""bolsync's metrics, sent through Airflow's own metrics facade (StatsD, DogStatsD or OpenTelemetry, as the
deployment's ``[metrics]`` section configures it; nothing is sent when metrics are off).

Every name starts with ``bolsync.`` (Airflow puts its ``statsd_prefix``/``otel_prefix`` in front). Tags name
the Airflow connection (``conn_id``, never a credential) and, where it makes sense, the endpoint. A metric
that cannot be sent is logged once and never breaks a sync.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

API_CALLS = "bolsync.api.calls"
THROTTLED = "bolsync.api.throttled"
RATE_LIMIT_REMAINING = "bolsync.api.rate_limit_remaining"
RATE_WAIT = "bolsync.rate_budget.wait"
AUTH_REQUESTS = "bolsync.auth.token_requests"
ROWS_LANDED = "bolsync.rows.landed"

#: Audit-row counts of landed rows: the column, then the table and the operation it is tagged with.
LANDED_COLUMNS: Mapping[str, tuple[str, str]] = {
    "orders_inserted": ("orders", "inserted"),
    "orders_updated": ("orders", "updated"),
    "items_inserted": ("order_items", "inserted"),
    "items_updated": ("order_items", "updated"),
    "offers_inserted": ("offers", "inserted"),
    "offers_updated": ("offers", "updated"),
    "offers_deleted": ("offers", "flagged_deleted"),
}

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_failed_once = False


def tag_value(value: object) -> str:
    """A tag value every backend accepts (InfluxDB-style StatsD tags allow no spaces, ``,`` or ``=``)."""
    return _UNSAFE.sub("_", str(value)).strip("_") or "none"


def endpoint_tag(endpoint: str) -> str:
    """``GET /retailer/orders/{id}`` becomes ``get_retailer_orders_id``."""
    return tag_value(endpoint.lower())


def api_call(conn_id: str, endpoint: str, status: int | str) -> None:
    """One request sent to the API; ``status`` is the HTTP status, or ``error`` when no answer was read."""
    _send("incr", API_CALLS, 1, conn_id=conn_id, endpoint=endpoint, status=status)


def throttled(conn_id: str, endpoint: str) -> None:
    """One 429 answer."""
    _send("incr", THROTTLED, 1, conn_id=conn_id, endpoint=endpoint)


def rate_wait(conn_id: str, endpoint: str, seconds: float) -> None:
    """How long one request waited for the credential's rate budget (a timer, in milliseconds)."""
    _send("timing", RATE_WAIT, max(0.0, seconds) * 1000.0, conn_id=conn_id, endpoint=endpoint)


def rate_limit_remaining(conn_id: str, endpoint: str, header: str | None) -> None:
    """bol's ``X-RateLimit-Remaining`` for the endpoint's current window, when an answer carries it."""
    try:
        remaining = int(str(header).strip())
    except ValueError:
        return
    if remaining >= 0:
        _send("gauge", RATE_LIMIT_REMAINING, remaining, conn_id=conn_id, endpoint=endpoint)


def token_request(conn_id: str) -> None:
    """One request to bol's token endpoint."""
    _send("incr", AUTH_REQUESTS, 1, conn_id=conn_id)


def rows_landed(conn_id: str, table: str, operation: str, count: int | None) -> None:
    """``count`` rows of ``table`` written to the warehouse (nothing is sent for none)."""
    try:
        rows = int(count or 0)
    except (TypeError, ValueError) as error:
        _report(error)
        return
    if rows > 0:
        _send("incr", ROWS_LANDED, rows, conn_id=conn_id, table=table, operation=operation)


def rows_landed_from(row: Mapping[str, Any]) -> None:
    """The landed-row counts of one ``bol.sync_runs`` row (:data:`LANDED_COLUMNS`)."""
    for column, (table, operation) in LANDED_COLUMNS.items():
        rows_landed(str(row.get("conn_id")), table, operation, row.get(column))


def _send(method: str, stat: str, value: float, **tags: object) -> None:
    try:
        from airflow.sdk.observability import stats

        emit: Callable[..., None] = getattr(stats, method)
        clean = {key: endpoint_tag(str(tag)) if key == "endpoint" else tag_value(tag) for key, tag in tags.items()}
        emit(stat, value, tags=clean)
    except Exception as error:
        _report(error)


def _report(error: Exception) -> None:
    global _failed_once
    if not _failed_once:
        _failed_once = True
        log.warning("bolsync metrics could not be sent (%s: %s); the sync goes on.", type(error).__name__, error)
    else:
        log.debug("bolsync metrics could not be sent: %s", error)
