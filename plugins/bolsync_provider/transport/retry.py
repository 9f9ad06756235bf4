"""Retry policy shared by the token and API calls: retriable errors only, Retry-After first."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from tenacity import RetryCallState

from bolsync_provider.config import setting
from bolsync_provider.errors import RETRIABLE_ERRORS, BolConfigError, BolRateLimited
from bolsync_provider.transport.metrics import ApiMetrics

log = logging.getLogger(__name__)

RETRIABLE = RETRIABLE_ERRORS
#: The first backoff (seconds); None: ``[bolsync] backoff_base_seconds``, default 1.
BACKOFF_BASE_SECONDS: float | None = None
BACKOFF_CAP_SECONDS = 60.0


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


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: uniform(c/2, c), c = :func:`backoff_ceiling`."""
    ceiling = backoff_ceiling(attempt)
    return random.uniform(ceiling / 2, ceiling)


def wait_for_retry(state: RetryCallState) -> float:
    """Honour a 429's Retry-After (plus a little jitter); otherwise back off exponentially."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, BolRateLimited) and error.retry_after is not None:
        return error.retry_after + random.uniform(0, 0.25)
    return backoff_seconds(state.attempt_number)


def log_retry(metrics: ApiMetrics, what: str) -> Callable[[RetryCallState], None]:
    """A tenacity ``before_sleep`` hook that counts the retry and logs why, without secrets."""

    def before_sleep(state: RetryCallState) -> None:
        metrics.add(retries=1)
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (%s); retry %d in %.1fs.", what, error, state.attempt_number, wait)

    return before_sleep
