"""Retry policy shared by the token and API calls: retriable errors only, Retry-After first, and no wait
longer than a task should hold its worker (those become :class:`BolRetryLater`)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from tenacity import RetryCallState

from bolsync_provider.config import setting
from bolsync_provider.errors import RETRIABLE_ERRORS, BolConfigError, BolRateLimited, BolRetryLater
from bolsync_provider.transport.metrics import ApiMetrics

log = logging.getLogger(__name__)

RETRIABLE = RETRIABLE_ERRORS
#: The first backoff (seconds); None: ``[bolsync] backoff_base_seconds``, default 1.
BACKOFF_BASE_SECONDS: float | None = None
BACKOFF_CAP_SECONDS = 60.0
#: The longest wait a task sleeps through in its worker (seconds); None: ``[bolsync] max_worker_wait_seconds``,
#: default 180. A longer one frees the worker and the pool slot: the task is rescheduled for later.
MAX_WORKER_WAIT_SECONDS: float | None = None
DEFAULT_MAX_WORKER_WAIT_SECONDS = 180.0


def backoff_base_seconds() -> float:
    if BACKOFF_BASE_SECONDS is not None:
        return BACKOFF_BASE_SECONDS
    raw = setting("backoff_base_seconds") or "1"
    try:
        base = float(raw)
    except ValueError:
        base = -1.0
    if not 0.001 <= base <= 60:
        raise BolConfigError(f"[bolsync] backoff_base_seconds must be a number from 0.001 to 60, got {raw!r}.")
    return base


def backoff_ceiling(attempt: int) -> float:
    """The longest backoff after failed attempt number ``attempt``: min(cap, base * 2**(attempt-1))."""
    return min(BACKOFF_CAP_SECONDS, backoff_base_seconds() * 2 ** max(0, attempt - 1))


def max_worker_wait_seconds() -> float:
    """How long a task may wait inside its worker before it frees it (``[bolsync] max_worker_wait_seconds``)."""
    if MAX_WORKER_WAIT_SECONDS is not None:
        return MAX_WORKER_WAIT_SECONDS
    raw = setting("max_worker_wait_seconds") or str(DEFAULT_MAX_WORKER_WAIT_SECONDS)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 1 <= seconds <= 86_400:
        raise BolConfigError(
            f"[bolsync] max_worker_wait_seconds must be a number of seconds from 1 to 86400, got {raw!r}."
        )
    return seconds


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: uniform(c/2, c), c = :func:`backoff_ceiling`."""
    ceiling = backoff_ceiling(attempt)
    return random.uniform(ceiling / 2, ceiling)


def wait_for_retry(state: RetryCallState) -> float:
    """The exponential backoff, or a 429's Retry-After (plus a little jitter) when that is longer.

    ``Retry-After: 0`` or a date in the past never makes retries come faster than the backoff. A wait longer
    than :func:`max_worker_wait_seconds` is not slept: it raises :class:`BolRetryLater` (from the error), so
    the task frees its worker and resumes after it without spending an attempt.
    """
    error = state.outcome.exception() if state.outcome else None
    wait = backoff_seconds(state.attempt_number)
    if isinstance(error, BolRateLimited) and error.retry_after is not None:
        wait = max(wait, error.retry_after + random.uniform(0, 0.25))
    limit = max_worker_wait_seconds()
    if wait > limit:
        raise retry_later(wait, f"{error}; bol asks to wait {wait:.0f} s", limit) from error
    return wait


def retry_later(seconds: float, why: str, limit: float, now: float | None = None) -> BolRetryLater:
    """The error that frees the worker for ``seconds`` from ``now`` (longer than ``limit``), saying ``why``."""
    resume_at = datetime.fromtimestamp((time.time() if now is None else now) + seconds, UTC)
    return BolRetryLater(
        f"{why}, longer than a task holds its worker ({limit:g} s, [bolsync] max_worker_wait_seconds): the task "
        f"frees its worker and resumes at {resume_at.isoformat(timespec='seconds')} without spending a retry.",
        resume_at=resume_at,
    )


def log_retry(metrics: ApiMetrics, what: str) -> Callable[[RetryCallState], None]:
    """A tenacity ``before_sleep`` hook that counts the retry and logs why, without secrets."""

    def before_sleep(state: RetryCallState) -> None:
        metrics.add(retries=1)
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (%s); retry %d in %.1fs.", what, error, state.attempt_number, wait)

    return before_sleep
