"""A deferred task's wake-up call: one event at a given moment, carrying what the task resumes with.

Used when bol makes a resumed operator wait longer than a worker should be held: the task defers on this
trigger and continues in the same method with the same event. The event carries it because ``dag.test``
passes only the event on to the resumed method, not the deferral's kwargs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ResumeAtTrigger(BaseTrigger):
    """Fires once at ``moment`` (aware) with ``payload`` as its event."""

    def __init__(self, moment: datetime | str, payload: dict[str, Any]) -> None:
        super().__init__()
        self.moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        if self.moment.tzinfo is None:
            raise ValueError(f"ResumeAtTrigger needs an aware moment, got {self.moment.isoformat()}")
        self.payload = dict(payload)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"moment": self.moment.isoformat(), "payload": self.payload},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        left = (self.moment - datetime.now(UTC)).total_seconds()
        if left > 0:
            self.log.info("Resuming at %s (in %.0f s).", self.moment.isoformat(timespec="seconds"), left)
            await asyncio.sleep(left)
        yield TriggerEvent(self.payload)
