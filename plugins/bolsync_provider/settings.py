"""Typed settings of one ``bol_retailer`` connection, validated with actionable errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from bolsync_provider.errors import BolConfigError

DEFAULT_API_URL = "https://api.bol.com"
DEFAULT_LOGIN_URL = "https://login.bol.com/token"
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"

#: Published per-endpoint limits (bol's published rate-limits list): requests per period in seconds.
DEFAULT_ENDPOINT_LIMITS: dict[str, tuple[int, float]] = {
    "GET /retailer/orders": (25, 60.0),
    "GET /retailer/orders/{id}": (25, 1.0),
    "POST /retailer/offers/export": (9, 3600.0),
    "GET /retailer/offers/export/{id}": (9, 3600.0),
    "GET /retailer/offers": (25, 1.0),
    # bol publishes no figure for the process status; the emulator allows 25/s. Polls back off anyway.
    "GET /shared/process-status/{id}": (25, 1.0),
}


@dataclass(frozen=True)
class BolConnectionSettings:
    """Everything the client needs from a connection. ``client_secret`` is never printed."""

    conn_id: str
    client_id: str
    client_secret: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    login_url: str = DEFAULT_LOGIN_URL
    retailer_id: str | None = None
    rate_limit_per_second: float = 5.0
    rate_limit_per_hour: int = 18_000
    endpoint_limits: Mapping[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_ENDPOINT_LIMITS))
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    #: ``client_credentials`` (a seller's own API credentials) or ``authorization_code`` (an intermediary
    #: partner acting for a seller, with a refresh token; see bolsync_provider.auth.authorize).
    grant_type: str = CLIENT_CREDENTIALS
    initial_refresh_token: str | None = field(default=None, repr=False)

    @property
    def credential_key(self) -> str:
        """What rate budget and token lock belong to: the client id, plus the connection in the code flow."""
        if self.grant_type == AUTHORIZATION_CODE:
            return f"{self.client_id}@{self.conn_id}"
        return self.client_id

    @classmethod
    def from_connection(
        cls, conn_id: str, login: str | None, password: str | None, extra: Mapping[str, Any]
    ) -> BolConnectionSettings:
        """Build settings from a connection's fields; raise BolConfigError naming what to fix."""
        where = f"connection '{conn_id}'"
        if not login:
            raise BolConfigError(f"{where} has no Client ID: set the connection's login to the client id.")
        if not password:
            raise BolConfigError(f"{where} has no Client Secret: set the connection's password to the client secret.")
        return cls(
            conn_id=conn_id,
            client_id=login,
            client_secret=password,
            api_url=_url(extra, "api_url", DEFAULT_API_URL, where),
            login_url=_url(extra, "login_url", DEFAULT_LOGIN_URL, where),
            retailer_id=_optional_str(extra.get("retailer_id")),
            rate_limit_per_second=_positive(extra, "rate_limit_per_second", 5.0, where),
            rate_limit_per_hour=int(_positive(extra, "rate_limit_per_hour", 18_000, where)),
            endpoint_limits=_endpoint_limits(extra.get("endpoint_rate_limits"), where),
            timeout_seconds=_positive(extra, "timeout_seconds", 30.0, where),
            max_attempts=int(_positive(extra, "max_attempts", 6, where)),
            grant_type=_grant_type(extra.get("grant_type"), where),
            initial_refresh_token=_optional_str(extra.get("refresh_token")),
        )


def _grant_type(value: Any, where: str) -> str:
    grant = str(value or CLIENT_CREDENTIALS).strip()
    if grant not in (CLIENT_CREDENTIALS, AUTHORIZATION_CODE):
        raise BolConfigError(
            f"{where}: extra 'grant_type' must be '{CLIENT_CREDENTIALS}' (a seller's own API credentials) or "
            f"'{AUTHORIZATION_CODE}' (an intermediary partner), got {value!r}."
        )
    return grant


def _optional_str(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def _url(extra: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = extra.get(key) or default
    parsed = urlparse(str(value))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BolConfigError(f"{where}: extra '{key}' must be an http(s) URL, got {value!r}.")
    return str(value).rstrip("/")


def _positive(extra: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = extra.get(key)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BolConfigError(f"{where}: extra '{key}' must be a number, got {value!r}.") from None
    if number <= 0:
        raise BolConfigError(f"{where}: extra '{key}' must be greater than 0, got {value!r}.")
    return number


def _endpoint_limits(value: Any, where: str) -> dict[str, tuple[int, float]]:
    """Defaults, overridden by extra ``endpoint_rate_limits``: {"GET /retailer/orders": [25, 60]}."""
    limits = dict(DEFAULT_ENDPOINT_LIMITS)
    if value in (None, ""):
        return limits
    if not isinstance(value, Mapping):
        raise BolConfigError(f"{where}: extra 'endpoint_rate_limits' must map 'METHOD /path' to [requests, seconds].")
    for endpoint, limit in value.items():
        try:
            requests, seconds = limit
            limits[str(endpoint)] = (int(requests), float(seconds))
        except (TypeError, ValueError):
            raise BolConfigError(
                f"{where}: endpoint_rate_limits[{endpoint!r}] must be [requests, seconds], got {limit!r}."
            ) from None
        if limits[str(endpoint)][0] <= 0 or limits[str(endpoint)][1] <= 0:
            raise BolConfigError(f"{where}: endpoint_rate_limits[{endpoint!r}] must be positive.")
    return limits
