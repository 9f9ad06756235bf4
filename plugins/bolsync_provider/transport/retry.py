"""Retry policy shared by the token and API calls: retriable errors only, Retry-After first."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable

from tenacity import RetryCallState

from bolsync_provider.errors import RETRIABLE_ERRORS, BolRateLimited
from bolsync_provider.transport.metrics import ApiMetrics

log = logging.getLogger(__name__)

RETRIABLE = RETRIABLE_ERRORS
BACKOFF_BASE_SECONDS = float(os.environ.get("BOLSYNC_BACKOFF_BASE_SECONDS", "1.0"))
BACKOFF_CAP_SECONDS = 60.0


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: uniform(c/2, c), c = min(cap, base * 2**(attempt-1))."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
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
