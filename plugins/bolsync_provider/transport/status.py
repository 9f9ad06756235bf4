"""The one place where an HTTP response status becomes a typed bolsync error."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time
from urllib.parse import urlsplit

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
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None when unusable.

    A date in the past means 0; a negative number of seconds is malformed (None). Either way the retry
    waits at least its backoff (``retry.wait_for_retry``).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = max(0.0, parsedate_to_datetime(value).timestamp() - time())
        except (TypeError, ValueError, OverflowError):
            return None
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def is_expired_jwt(problem: Mapping, body: str) -> bool:
    """bol marks an expired token with title "Expired JWT" (detail "JWT expired at ...")."""
    title = str(problem.get("title", ""))
    return title.lower() == "expired jwt" or "jwt expired" in body.lower()


def redirect_target(location: str | None) -> str:
    """Where a redirect points, as ``scheme://host[:port]`` only (a path or query may carry secrets)."""
    if not location or not location.strip():
        return "nowhere (no Location header)"
    try:
        parts = urlsplit(location.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an unreadable Location"
    if not host:
        return "another path on the same host"
    return f"{parts.scheme or 'http'}://{host}" + (f":{port}" if port else "")


def error_for_status(status: int, body: str, headers: Mapping[str, str], *, request: str) -> BolApiError | None:
    """Map a response to the error it means, or None for 1xx/2xx.

    A 3xx is an error: redirects are not followed (they would re-send credentials to another host).
    ``request`` is a short label such as ``"GET /retailer/orders"`` (no query string, no secrets).
    """
    if status < 300:
        return None
    if status < 400:
        return BolClientError(
            f"{request} -> HTTP {status}: a redirect to {redirect_target(headers.get('Location'))}, not followed "
            "(bol's API and login do not redirect). Check the connection's api_url and login_url: they must "
            "be bol's https URLs.",
            status=status,
        )
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
