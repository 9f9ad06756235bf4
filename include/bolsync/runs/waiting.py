"""When bol makes a task wait longer than a worker should be held: free the worker, resume afterwards.

The transport and the rate budget raise :class:`BolRetryLater` instead of such a wait (a long
``Retry-After``, a long 429 pause of the credential, a full window). A task (a ``@task``, or an
operator's ``execute``) is then rescheduled: Airflow keeps it UP_FOR_RESCHEDULE until ``resume_at``, frees
its worker and pool slot, and runs it again from the start in the same try, so the try number and the
retries left do not change. An operator already resumed from a deferral names where to continue
(:class:`ResumeWith`): it defers once more on a time trigger and continues in that method with the same
event (a finished offer export is then downloaded, not requested again). After :data:`MAX_RESCHEDULES`
reschedules the wait fails the try like any other retriable error, so a credential throttled for a day is
alerted instead of waiting silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred

from bolsync_provider.errors import BolRetryLater
from bolsync_provider.triggers.resume_at import ResumeAtTrigger

log = logging.getLogger(__name__)

#: Reschedules of one task instance before a long wait counts as a failed try.
MAX_RESCHEDULES = 24
#: What :func:`waits_outside_the_worker` raises instead of the wait.
WAITING = (AirflowRescheduleException, TaskDeferred)


@dataclass(frozen=True)
class ResumeWith:
    """Where a deferrable operator continues after the wait: ``method(context, event=event)``."""

    method: str
    event: dict[str, Any]


@contextmanager
def waits_outside_the_worker(context: Any, resume: ResumeWith | None = None) -> Iterator[None]:
    """Turn a :class:`BolRetryLater` raised in the block into a reschedule (or, with ``resume``, a deferral)."""
    try:
        yield
    except BolRetryLater as wait:
        done = int(context.get("task_reschedule_count") or 0)
        if done >= MAX_RESCHEDULES:
            log.error("%s; rescheduled %d times already: failing this try instead.", wait, done)
            raise
        log.warning("%s", wait)
        if resume is None:
            raise AirflowRescheduleException(reschedule_date=wait.resume_at) from wait
        raise TaskDeferred(trigger=ResumeAtTrigger(wait.resume_at, resume.event), method_name=resume.method) from wait
