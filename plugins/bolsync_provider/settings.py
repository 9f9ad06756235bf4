"""Typed settings of one ``bol_retailer`` connection, validated with actionable errors.

Every extra is checked: its type, its range, and its name (a misspelt key is an error, never a silent
default). Numbers may be JSON numbers or numeric strings (a connection given as a URI has string extras).
URLs must be https without user info; plain http only for a loopback host or with ``allow_insecure_http``.
Messages name the connection and the key, never a secret.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)

CONN_TYPE = "bol_retailer"
DEFAULT_API_URL = "https://api.bol.com"
DEFAULT_LOGIN_URL = "https://login.bol.com/token"
PRODUCTION = "production"
#: bol's demo environment: the same login, API calls under /retailer-demo and /shared-demo, fixed answers.
BOL_DEMO = "bol-demo"
ENVIRONMENTS = (PRODUCTION, BOL_DEMO)
_DEMO_PREFIXES = {"/retailer/": "/retailer-demo/", "/shared/": "/shared-demo/"}
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
#: Enough for an offer export of several hundred thousand offers; raise it per connection if needed.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: Published per-endpoint limits (bol's published rate-limits list): requests per period in seconds.
DEFAULT_ENDPOINT_LIMITS: dict[str, tuple[int, float]] = {
    "GET /retailer/orders": (25, 60.0),
    "GET /retailer/orders/{id}": (25, 1.0),
    "POST /retailer/offers/export": (9, 3600.0),
    "GET /retailer/offers/export/{id}": (9, 3600.0),
    "GET /retailer/offers": (25, 1.0),
    # bol publishes no figure for the process status; the emulator allows 25/s. Polls back off anyway.
    "GET /shared/process-status/{id}": (25, 1.0),
    "GET /retailer/returns": (20, 60.0),
    "GET /retailer/returns/{id}": (20, 60.0),
    "GET /retailer/shipments": (25, 60.0),
    "GET /retailer/shipments/{id}": (50, 60.0),
    "GET /retailer/inventory": (20, 60.0),
    "GET /retailer/invoices": (24, 60.0),
    # One published rule covers an invoice and its specification: they share this window.
    "GET /retailer/invoices/{id}": (24, 60.0),
}


@dataclass(frozen=True)
class NumberRule:
    """A numeric extra: its default, its range and whether it must be whole."""

    default: float
    minimum: float
    maximum: float
    whole: bool = False


NUMBERS: dict[str, NumberRule] = {
    "rate_limit_per_second": NumberRule(5.0, 0.001, 10_000.0),
    "rate_limit_per_hour": NumberRule(18_000, 1, 100_000_000, whole=True),
    "timeout_seconds": NumberRule(30.0, 0.1, 3600.0),
    "max_attempts": NumberRule(6, 1, 20, whole=True),
    "max_response_bytes": NumberRule(DEFAULT_MAX_RESPONSE_BYTES, 1024, 4 * 1024**3, whole=True),
}
ENDPOINT_REQUESTS = NumberRule(0, 1, 1_000_000, whole=True)
ENDPOINT_SECONDS = NumberRule(0, 0.001, 86_400.0)
#: Extras this provider reads, and extras the pipeline (bolsync) reads from the same connection.
PROVIDER_EXTRAS = frozenset(
    {"api_url", "login_url", "allow_insecure_http", "retailer_id", "endpoint_rate_limits", "grant_type", "environment"}
    | {"refresh_token"}
    | set(NUMBERS)
)
PIPELINE_EXTRAS = frozenset({"personal_data"})
#: How Airflow's connection form may prefix the extras it stores.
UI_PREFIX = f"extra__{CONN_TYPE}__"
_LOOPBACK_NAMES = ("localhost", "localhost.")

_warned_insecure: set[str] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class BolConnectionSettings:
    """Everything the client needs from a connection. Secrets are never printed."""

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
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    allow_insecure_http: bool = False
    #: ``client_credentials`` (a seller's own API credentials) or ``authorization_code`` (an intermediary
    #: partner acting for a seller, with a refresh token; see bolsync_provider.auth.authorize).
    grant_type: str = CLIENT_CREDENTIALS
    initial_refresh_token: str | None = field(default=None, repr=False)
    #: ``production``, or ``bol-demo`` (bol's demo environment: fixed answers, never synced).
    environment: str = PRODUCTION

    @property
    def is_demo(self) -> bool:
        return self.environment == BOL_DEMO

    def api_path(self, path: str) -> str:
        """Where ``path`` (a production path such as ``/retailer/orders``) lives in this connection's environment."""
        if self.is_demo:
            for prefix, demo in _DEMO_PREFIXES.items():
                if path.startswith(prefix):
                    return demo + path.removeprefix(prefix)
        return path

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
        client_id = _credential(login, "Client ID", "login", "the client id", where)
        client_secret = _credential(password, "Client Secret", "password", "the client secret", where)
        extra = _known_extras(extra, where)
        insecure = _boolean(extra, "allow_insecure_http", where)
        numbers = {key: _number(extra.get(key), rule, f"{where}: extra '{key}'") for key, rule in NUMBERS.items()}
        settings = cls(
            conn_id=conn_id,
            client_id=client_id,
            client_secret=client_secret,
            api_url=_url(extra, "api_url", DEFAULT_API_URL, where, insecure),
            login_url=_url(extra, "login_url", DEFAULT_LOGIN_URL, where, insecure),
            retailer_id=_retailer_id(extra.get("retailer_id"), where),
            rate_limit_per_second=numbers["rate_limit_per_second"],
            rate_limit_per_hour=int(numbers["rate_limit_per_hour"]),
            endpoint_limits=_endpoint_limits(extra.get("endpoint_rate_limits"), where),
            timeout_seconds=numbers["timeout_seconds"],
            max_attempts=int(numbers["max_attempts"]),
            max_response_bytes=int(numbers["max_response_bytes"]),
            allow_insecure_http=insecure,
            grant_type=_grant_type(extra.get("grant_type"), where),
            initial_refresh_token=_optional_text(extra.get("refresh_token"), "refresh_token", where),
            environment=_environment(extra.get("environment"), where),
        )
        insecure_urls = [
            url
            for url in (settings.api_url, settings.login_url)
            if urlsplit(url).scheme == "http" and not _is_loopback(urlsplit(url).hostname or "")
        ]
        if insecure_urls:
            _warn_insecure_once(conn_id, insecure_urls)
        return settings


def parse_extra(conn_id: str, raw: str | None) -> dict[str, Any]:
    """A connection's extra text as a JSON object; BolConfigError (without echoing it) when it is not one."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise BolConfigError(
            f"connection '{conn_id}': its extra is not valid JSON ({error.msg} at line {error.lineno} column "
            f'{error.colno}); write it as a JSON object, e.g. {{"api_url": "{DEFAULT_API_URL}"}}.'
        ) from None
    except (ValueError, RecursionError):
        raise BolConfigError(f"connection '{conn_id}': its extra is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BolConfigError(f"connection '{conn_id}': its extra must be a JSON object, got {type(value).__name__}.")
    return value


def _credential(value: str | None, label: str, field_name: str, what: str, where: str) -> str:
    if not value:
        raise BolConfigError(f"{where} has no {label}: set the connection's {field_name} to {what}.")
    if not isinstance(value, str):
        raise BolConfigError(f"{where}: the {label} ({field_name}) must be text.")
    slip = stray_characters(value)
    if slip:
        raise BolConfigError(
            f"{where}: the {label} ({field_name}) {slip} (a copy-paste slip?); paste it again without it. "
            "Nothing was sent to bol."
        )
    return value


_NAMES = {" ": "a space", "\n": "a line break", "\r": "a carriage return", "\t": "a tab"}


def stray_characters(value: str) -> str | None:
    """What is wrong with a pasted credential (``"ends with a line break"``), or None; never shows the value."""

    def name(char: str) -> str:
        return _NAMES.get(char, "an invisible character" if char.isspace() or ord(char) < 32 else "")

    if value[:1] and name(value[0]):
        return f"starts with {name(value[0])}"
    if value[-1:] and name(value[-1]):
        return f"ends with {name(value[-1])}"
    inner = next((char for char in value if ord(char) < 32 or char in "\u00a0\u200b\ufeff"), None)
    if inner is not None:
        return f"contains {name(inner) or 'an invisible character'}"
    return None


def _known_extras(extra: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The extras by name (Airflow's form prefix removed); BolConfigError for any key nobody reads."""
    known: dict[str, Any] = {}
    for raw_key, value in extra.items():
        key = str(raw_key).removeprefix(UI_PREFIX)
        if _unset(value) and key in known:
            continue
        if key in known and not _unset(known[key]) and known[key] != value:
            raise BolConfigError(f"{where}: extra '{key}' is given twice, also as '{UI_PREFIX}{key}', differently.")
        known[key] = value
    unknown = sorted(set(known) - PROVIDER_EXTRAS - PIPELINE_EXTRAS)
    if unknown:
        raise BolConfigError(
            f"{where}: unknown extra {', '.join(repr(k) for k in unknown)} (a misspelling?); the extras of a "
            f"bol_retailer connection are {', '.join(sorted(PROVIDER_EXTRAS | PIPELINE_EXTRAS))}."
        )
    return known


def _unset(value: Any) -> bool:
    return value is None or value == ""


def _number(value: Any, rule: NumberRule, name: str, *, required: bool = False) -> float:
    """``value`` as a finite number in the rule's range (its default when unset and not ``required``)."""
    if _unset(value) and not required:
        return rule.default
    kind = "a whole number" if rule.whole else "a number"
    expected = f"{kind} from {_show(rule.minimum)} to {_show(rule.maximum)}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BolConfigError(f"{name} must be {expected}, got {type(value).__name__} {value!r}.")
    if isinstance(value, str) and len(value) > 40:
        raise BolConfigError(f"{name} must be {expected}, got a {len(value)}-character string.")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise BolConfigError(f"{name} must be {expected}, got {value!r}.") from None
    if not math.isfinite(number) or not rule.minimum <= number <= rule.maximum:
        raise BolConfigError(f"{name} must be {expected}, got {value!r}.")
    if rule.whole and not number.is_integer():
        raise BolConfigError(f"{name} must be {expected} (no fraction), got {value!r}.")
    return number


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _boolean(extra: Mapping[str, Any], key: str, where: str) -> bool:
    value = extra.get(key)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BolConfigError(f"{where}: extra '{key}' must be true or false, got {value!r}.")


def _grant_type(value: Any, where: str) -> str:
    grant = value.strip() if isinstance(value, str) and value.strip() else value or CLIENT_CREDENTIALS
    if grant not in (CLIENT_CREDENTIALS, AUTHORIZATION_CODE):
        raise BolConfigError(
            f"{where}: extra 'grant_type' must be '{CLIENT_CREDENTIALS}' (a seller's own API credentials) or "
            f"'{AUTHORIZATION_CODE}' (an intermediary partner), got {value!r}."
        )
    return str(grant)


def _environment(value: Any, where: str) -> str:
    environment = value.strip() if isinstance(value, str) else value
    if environment is None or environment == "":
        return PRODUCTION
    if environment not in ENVIRONMENTS:
        raise BolConfigError(
            f"{where}: extra 'environment' must be '{PRODUCTION}' (bol's real API) or '{BOL_DEMO}' (bol's demo "
            f"environment, fixed answers for trying the credentials), got {value!r}."
        )
    return str(environment)


def _retailer_id(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise BolConfigError(f"{where}: extra 'retailer_id' must be bol's numeric retailer (seller) id, got {value!r}.")
    return text


def _optional_text(value: Any, key: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BolConfigError(f"{where}: extra '{key}' must be a string, got {type(value).__name__}.")
    return value


def _url(extra: Mapping[str, Any], key: str, default: str, where: str, allow_insecure: bool) -> str:
    value = extra.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise BolConfigError(f"{where}: extra '{key}' must be a URL string, got {type(value).__name__}.")
    text = value.strip()
    try:
        parts = urlsplit(text)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise BolConfigError(f"{where}: extra '{key}' is not a valid URL (check the host and port).") from None
    if "@" in parts.netloc:
        raise BolConfigError(
            f"{where}: extra '{key}' must not contain user info (a name or password before '@'): put the client "
            "id and secret in the connection's login and password."
        )
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in text):
        raise BolConfigError(f"{where}: extra '{key}' must be an https URL like {default!r}, got {value!r}.")
    if parts.query or parts.fragment:
        raise BolConfigError(f"{where}: extra '{key}' must not have a query or fragment, got {value!r}.")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(host):
        raise BolConfigError(
            f"{where}: extra '{key}' must use https, got {value!r}: plain http would send the client secret and "
            "tokens unencrypted. http is accepted only for a loopback host (127.0.0.1, ::1, localhost) or, for "
            "a local emulator on another host, with the extra allow_insecure_http: true."
        )
    return text.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_insecure_once(conn_id: str, urls: list[str]) -> None:
    """One warning per connection and process (every task builds the settings again)."""
    with _warned_lock:
        if conn_id in _warned_insecure:
            return
        _warned_insecure.add(conn_id)
    log.warning(
        "Connection '%s' uses plain http (%s) because its extra allow_insecure_http is true: credentials and "
        "tokens travel unencrypted. Use this only for a local emulator, never for bol.",
        conn_id,
        ", ".join(urls),
    )


def _endpoint_limits(value: Any, where: str) -> dict[str, tuple[int, float]]:
    """Defaults, overridden by extra ``endpoint_rate_limits``: {"GET /retailer/orders": [25, 60]}."""
    limits = dict(DEFAULT_ENDPOINT_LIMITS)
    if value is None or value == "":
        return limits
    if not isinstance(value, Mapping):
        raise BolConfigError(f"{where}: extra 'endpoint_rate_limits' must map 'METHOD /path' to [requests, seconds].")
    for endpoint, limit in value.items():
        name = f"{where}: endpoint_rate_limits[{endpoint!r}]"
        if endpoint not in DEFAULT_ENDPOINT_LIMITS:
            raise BolConfigError(
                f"{name}: unknown endpoint (a misspelling?); limits can be set for "
                f"{', '.join(repr(e) for e in DEFAULT_ENDPOINT_LIMITS)}."
            )
        if isinstance(limit, str | bytes) or not isinstance(limit, list | tuple) or len(limit) != 2:
            raise BolConfigError(f"{name} must be [requests, seconds], got {limit!r}.")
        requests = _number(limit[0], ENDPOINT_REQUESTS, f"{name} requests", required=True)
        seconds = _number(limit[1], ENDPOINT_SECONDS, f"{name} seconds", required=True)
        limits[endpoint] = (int(requests), seconds)
    return limits
