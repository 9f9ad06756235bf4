"""The start of each account's sync: one cheap auth check (a cached token costs no request) and the freshness
check, so a broken credential fails once, clearly and with one alert, before any extract."""

from __future__ import annotations

import logging
from typing import Any

from bolsync.runs.audit import audited
from bolsync.runs.freshness import alert_if_stale
from bolsync.runs.sync_hook import SyncHook
from bolsync.warehouse.connection import WarehouseTarget, warehouse_target

log = logging.getLogger(__name__)


def authenticate(
    context: Any, conn_id: str, *, step: str | None = None, database: WarehouseTarget | None = None
) -> str:
    """Check ``conn_id`` authenticates (audited; ``step``: as a step of a larger task, ``database``: the warehouse
    it already looked up); its retailer id."""
    database = database or warehouse_target()
    hook = SyncHook(conn_id)
    audit: dict[str, Any] = {"conn_id": conn_id}
    with audited(context, database, audit, hook, step=step):
        alert_if_stale(context, database, conn_id)
        retailer_id = audit["retailer_id"] = hook.get_retailer_id()
        log.info("Connection '%s' authenticates as retailer %s.", conn_id, retailer_id)
    return str(retailer_id)
