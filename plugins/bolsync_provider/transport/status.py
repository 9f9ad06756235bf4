"""The one place where an HTTP response status becomes a typed bolsync error."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time

from bolsync_provider.errors import (
    BolApiError,
    BolAuthError,
    BolClientError,
    BolNotFound,
    BolRateLimited,
    BolServerError,
    BolTokenExpired,
)

_TAG = re.compile(r"<[^>]+>")
_MAX_DETAIL = 300
#: No bol limit window is longer than an hour: a longer (or infinite) Retry-After is treated as an hour.
MAX_RETRY_AFTER_SECONDS = 3600.0


def parse_problem(body: str) -> dict:
    """Return the Problem JSON object of an error body, or ``{}`` when it is not JSON (e.g. HTML)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # garbage, or JSON nested deeper than the parser goes
        return {}
    return parsed if isinstance(parsed, dict) else {}


def describe_body(body: str, problem: Mapping) -> str:
    """A short, single-line description of an error body, safe to log."""
    if problem:
        parts = [str(problem[k]) for k in ("title", "detail", "error", "error_description") if problem.get(k)]
        if problem.get("violations"):
            parts.append(f"violations: {problem['violations']}")
        text = ": ".join(parts) or json.dumps(problem, ensure_ascii=False)
    else:
        text = _TAG.sub(" ", body)
    text = " ".join(text.split())
    return text[:_MAX_DETAIL] or "(empty body)"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time()
        except (TypeError, ValueError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def is_expired_jwt(problem: Mapping, body: str) -> bool:
    """bol marks an expired token with title "Expired JWT" (detail "JWT expired at ...")."""
    title = str(problem.get("title", ""))
    return title.lower() == "expired jwt" or "jwt expired" in body.lower()


def error_for_status(status: int, body: str, headers: Mapping[str, str], *, request: str) -> BolApiError | None:
    """Map a response to the error it means, or None for 2xx/3xx.

    ``request`` is a short label such as ``"GET /retailer/orders"`` (no query string, no secrets).
    """
    if status < 400:
        return None
    problem = parse_problem(body)
    message = f"{request} -> HTTP {status}: {describe_body(body, problem)}"
    if status == 401:
        if is_expired_jwt(problem, body):
            return BolTokenExpired(message, status=status, problem=problem)
        return BolAuthError(message, status=status, problem=problem)
    if status == 403:
        return BolAuthError(message, status=status, problem=problem)
    if status == 404:
        return BolNotFound(message, status=status, problem=problem)
    if status == 429:
        return BolRateLimited(message, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status == 408 or status >= 500:
        return BolServerError(message, status=status, problem=problem)
    return BolClientError(message, status=status, problem=problem)
