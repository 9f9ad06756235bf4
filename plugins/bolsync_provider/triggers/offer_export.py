"""The deferrable wait for bol's offer export: poll ``GET /shared/process-status/{id}`` in the triggerer.

The task that requested the export gives up its worker slot while bol prepares the file (bol says an end
state can take up to 3 hours). The poll itself is the hook's ordinary synchronous call (budget, token,
retries, typed errors) run in a thread, so the triggerer's event loop never blocks; a wait longer than a
worker should be held (``BolRetryLater``) is awaited here, where it costs nothing. Backoff: 5 s doubling
to 60 s, as bol advises for process statuses; a 404 means bol no longer keeps the status: stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from bolsync_provider.errors import BolError, BolNotFound, BolRetryLater
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

SUCCESS = "SUCCESS"
#: Event statuses besides SUCCESS: bol's FAILURE and TIMEOUT, EXPIRED (404), STILL_PENDING, ERROR.
END_STATES = ("FAILURE", "TIMEOUT")


class OfferExportTrigger(BaseTrigger):
    """Fires one event when the export's process status reaches an end state (or cannot be read)."""

    def __init__(
        self,
        conn_id: str,
        process_status_id: str,
        *,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout_seconds: float = 3 * 3600.0,
        started_at: float | None = None,
        carry: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.process_status_id = str(process_status_id)
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.timeout_seconds = float(timeout_seconds)
        self.started_at = float(started_at) if started_at is not None else time.time()
        #: Echoed in the event: what the resumed task needs (``dag.test`` passes only the event on).
        self.carry = dict(carry or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "process_status_id": self.process_status_id,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "timeout_seconds": self.timeout_seconds,
                "started_at": self.started_at,
                "carry": self.carry,
            },
        )

    def _event(self, status: str, message: str | None = None, report_id: str | None = None) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "message": message,
                "report_id": report_id,
                "process_status_id": self.process_status_id,
                "conn_id": self.conn_id,
                "carry": self.carry,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = BolRetailerHook(self.conn_id)
        interval = self.poll_interval
        what = f"offer export (process status {self.process_status_id}, connection '{self.conn_id}')"
        while True:
            try:
                status = await asyncio.to_thread(hook.get_process_status, self.process_status_id)
            except BolRetryLater as wait:  # the triggerer waits at no cost: no worker is held here
                self.log.warning("%s", wait)
                await asyncio.sleep(max(0.0, (wait.resume_at - datetime.now(UTC)).total_seconds()))
                continue
            except BolNotFound:
                yield self._event(
                    "EXPIRED",
                    f"bol no longer knows the {what}: 404, the status expired (bol keeps it about 48 h) "
                    "or never existed; a retry requests a new export.",
                )
                return
            except BolError as error:
                yield self._event("ERROR", f"polling the {what} failed: {type(error).__name__}: {error}")
                return
            state = str(status.get("status"))
            if state == SUCCESS:
                report_id = status.get("entityId")
                if not report_id:
                    yield self._event("ERROR", f"bol marked the {what} SUCCESS without an entityId (report id).")
                else:
                    yield self._event(SUCCESS, report_id=str(report_id))
                return
            if state in END_STATES:
                reason = status.get("errorMessage") or "no errorMessage given"
                yield self._event(state, f"bol ended the {what} with {state}: {reason}")
                return
            if state != "PENDING":
                yield self._event("ERROR", f"bol sent an unknown process status {state!r} for the {what}.")
                return
            waited = time.time() - self.started_at
            if waited + interval > self.timeout_seconds:
                yield self._event(
                    "STILL_PENDING", f"the {what} is still PENDING after {waited:.0f} s; giving up for this try."
                )
                return
            self.log.info("Offer export %s still PENDING; next poll in %.1f s.", self.process_status_id, interval)
            await asyncio.sleep(interval)
            interval = min(interval * 2, self.max_poll_interval)


async def first_event(trigger: BaseTrigger) -> TriggerEvent | None:
    """Drive a trigger in the current process (the non-deferrable fallback and tests)."""
    async for event in trigger.run():
        return event
    return None
