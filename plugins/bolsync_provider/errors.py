"""Typed errors of the bol.com Retailer API client.

Retriable: :class:`BolRateLimited`, :class:`BolServerError`, :class:`BolTransportError` (by the transport, seconds
apart) and :class:`BolInconsistentResponse` (by the task's retries, minutes apart). Later: :class:`BolRetryLater`
(the task frees its worker and resumes). Fatal: everything else.
Messages never contain credentials or tokens: every message is redacted here, once.
"""

from __future__ import annotations

from datetime import date, datetime

from bolsync_provider.redaction import redact


class BolError(Exception):
    """Base class of every bolsync error; its message is redacted (no secret, token or credential field)."""

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


class BolConfigError(BolError):
    """A connection or setting is missing or invalid; fix the configuration."""


class BolApiError(BolError):
    """The API answered with an error status."""

    def __init__(self, message: str, *, status: int | None = None, problem: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}


class BolAuthError(BolApiError):
    """Credentials, token or account are not accepted (401/403 or a login failure). Never retried."""


class BolLoginError(BolAuthError):
    """The login service refused to issue a token (bad or revoked credentials, blocked IP, unusable token)."""


class BolTokenExpired(BolAuthError):
    """The API says the JWT has expired (401 "Expired JWT"): refresh once and retry."""


class BolRateLimited(BolApiError):
    """429 Too Many Requests; ``retry_after`` is the server's wait in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None, status: int = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class BolServerError(BolApiError):
    """5xx or 408: transient on bol's side, retried."""


class BolClientError(BolApiError):
    """A 4xx other than 401/403/404/429: the request is wrong, retrying cannot help."""


class BolNotFound(BolClientError):
    """404: the resource does not exist (or is no longer kept by bol)."""


class BolTransportError(BolError):
    """Timeout or dropped connection before a response arrived: retried."""


class BolResponseError(BolError):
    """The API answered 2xx with a body that does not have the documented shape (or is too large)."""


class BolInconsistentResponse(BolError):
    """A well-formed 2xx answer that contradicts the request: the detail of another order than the one asked, an
    order-list page repeating orders already listed, a list that does not end.

    Typical of a cache or a routing fault between bolsync and bol, which passes: retried by the task's retries
    (minutes apart), not by the transport (a cache answers the same a second later). Nothing of such an answer
    is used. Not a :class:`BolResponseError`: those are fatal, as the same malformed data comes back every try.
    """

    what_to_do = (
        "bol, or a cache or proxy between bolsync and bol, answered inconsistently on every try. Nothing of this "
        "account's window was loaded, and the window is not recorded as covered. Look for a caching proxy in front "
        "of the bol API; once its answers are consistent, clear the task (reruns are idempotent) or let the nightly "
        "coverage check name the backfill that fills the window."
    )


class BolRetryLater(BolError):
    """A wait longer than a task should hold its worker (a long ``Retry-After``, a long pause or a full window
    of the credential's budget): free the worker and resume at ``resume_at`` (UTC); not a failure, and it
    spends none of the task's retries."""

    def __init__(self, message: str, *, resume_at: datetime) -> None:
        super().__init__(message)
        self.resume_at = resume_at


class BolSharedStateError(BolError):
    """The shared state (rate budget, token lock) could not be used in time; the task's retries may help."""


class BolLeaseUnavailable(BolSharedStateError):
    """A lease (such as the token refresh's) was not had in time: nothing was done without it; a later try may."""


class BolLeaseLost(BolLeaseUnavailable):
    """A held lease ran out before its work was done (the process stalled longer than its TTL)."""


class BolWindowTooOld(BolConfigError):
    """A requested window lies beyond bol's 3 months of order history (``first_served``: the oldest date it serves)."""

    def __init__(self, message: str, *, first_served: date | None = None) -> None:
        super().__init__(message)
        self.first_served = first_served


RETRIABLE_ERRORS: tuple[type[BaseException], ...] = (BolRateLimited, BolServerError, BolTransportError)
