"""Access tokens: parsing bol's token response and reading the JWT claims we rely on.

A token response is accepted only when it is what bol documents (see tests/fixtures/bol_api):
- ``access_token``: a JWT, three non-empty base64url parts and nothing else (no whitespace, no line
  break: such a value would end up in a header), whose payload is a JSON object;
- ``token_type``: Bearer, in any case;
- ``expires_in``, when present: a finite number of seconds greater than 0.
Anything else is refused with :class:`BolLoginError` (naming the field, never the value) and never cached.
Lifetime: ``exp - iat`` of the JWT (server clock), counted from when we sent the request; else
``expires_in``; with neither, a conservative 60 s (a 401 "Expired JWT" still triggers one refresh).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

import jwt

from bolsync_provider.errors import BolLoginError

log = logging.getLogger(__name__)

FALLBACK_LIFETIME_SECONDS = 60.0
#: Longer is no token bol issues (theirs are ~1 kB): refuse it rather than send it in every header.
MAX_TOKEN_LENGTH = 16_384
_SELLER_ID = re.compile(r"\bSLR:(\d+)\b")
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def is_jwt(value: object) -> bool:
    """True for a compact JWT (three base64url parts) whose payload is a JSON object."""
    if not isinstance(value, str) or len(value) > MAX_TOKEN_LENGTH or not _JWT.fullmatch(value):
        return False
    return bool(read_claims(value))


@dataclass(frozen=True, repr=False)
class AccessToken:
    """A bearer token and when it stops being usable (epoch seconds, our clock). Its repr hides the value."""

    value: str
    issued_at: float
    expires_at: float
    client_id: str
    retailer_id: str | None = None

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.issued_at

    @property
    def refresh_margin(self) -> float:
        """Refresh this long before expiry: 10 % of the lifetime, between 1 s and 60 s."""
        return min(60.0, max(1.0, self.lifetime * 0.1))

    def is_fresh(self, now: float) -> bool:
        return now < self.expires_at - self.refresh_margin

    def __repr__(self) -> str:
        return (
            f"AccessToken(value='***', issued_at={self.issued_at!r}, expires_at={self.expires_at!r}, "
            f"client_id={self.client_id!r}, retailer_id={self.retailer_id!r})"
        )

    __str__ = __repr__

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AccessToken | None:
        """Parse a cached token; None for anything unreadable or inconsistent (the cache is then ignored).

        The value must be a JWT, and a stored ``retailer_id`` must be the one the token's own ``aid`` claim
        names: a cache entry edited to point at another seller is refused.
        """
        try:
            data = json.loads(text)
            value, retailer_id = data["value"], data.get("retailer_id")
            token = cls(
                value=value,
                issued_at=float(data["issued_at"]),
                expires_at=float(data["expires_at"]),
                client_id=str(data["client_id"]),
                retailer_id=None if retailer_id is None else str(retailer_id),
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None
        if not is_jwt(value) or not math.isfinite(token.expires_at):
            log.warning("The cached access token is not a usable JWT; fetching a new one.")
            return None
        claimed = retailer_id_from_claims(read_claims(value))
        if token.retailer_id != claimed:
            log.warning(
                "The cached access token says retailer %s but the token itself names %s; fetching a new one.",
                token.retailer_id,
                claimed,
            )
            return None
        return token


def read_claims(token: str) -> dict[str, Any]:
    """The JWT payload without verifying the signature (we are the audience, not the verifier)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def retailer_id_from_claims(claims: dict[str, Any]) -> str | None:
    """The seller id from ``aid`` ("CLNTC:<uuid> SLR:<retailer id>"), if present."""
    match = _SELLER_ID.search(str(claims.get("aid", "")))
    return match.group(1) if match else None


def parse_token_response(body: str, *, requested_at: float, client_id: str, login_label: str) -> AccessToken:
    """Turn a 200 token response body into an AccessToken, or raise BolLoginError explaining why not."""
    data = _json_object(body)
    if data is None:
        raise BolLoginError(f"{login_label} answered 200 without a JSON token object.")
    value = data.get("access_token")
    if not isinstance(value, str) or not value:
        raise BolLoginError(f"{login_label} answered 200 without an access_token.")
    if not is_jwt(value):
        raise BolLoginError(
            f"{login_label} answered 200 with an access_token that is not a JWT ({_shape(value)}); it cannot be "
            "sent as a bearer token. It was not cached; the next run asks for a new one. If this persists, "
            "check login_url: it must be bol's token endpoint."
        )
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        shown = token_type if isinstance(token_type, str) and len(token_type) <= 20 else type(token_type).__name__
        raise BolLoginError(f"{login_label} returned token_type {shown!r}; only Bearer tokens can be used.")
    claims = read_claims(value)
    lifetime = _lifetime(claims, data.get("expires_in"), login_label)
    return AccessToken(
        value=value,
        issued_at=requested_at,
        expires_at=requested_at + lifetime,
        client_id=client_id,
        retailer_id=retailer_id_from_claims(claims),
    )


def _lifetime(claims: dict[str, Any], expires_in: Any, login_label: str) -> float:
    seconds = _expires_in(expires_in, login_label)
    exp, iat = claims.get("exp"), claims.get("iat")
    if _number(exp) and _number(iat) and math.isfinite(exp - iat) and exp > iat:
        return float(exp - iat)
    if seconds is not None:
        return seconds
    log.warning(
        "%s returned no usable expiry (no JWT exp and iat, no expires_in); assuming %ss and refreshing on 401.",
        login_label,
        FALLBACK_LIFETIME_SECONDS,
    )
    return FALLBACK_LIFETIME_SECONDS


def _expires_in(expires_in: Any, login_label: str) -> float | None:
    """``expires_in`` in seconds; None when absent or empty; BolLoginError unless a finite number > 0."""
    if expires_in is None or expires_in == "":
        return None
    try:
        seconds = float(expires_in) if not isinstance(expires_in, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise BolLoginError(f"{login_label} returned expires_in that is not a finite number of seconds.")
    if seconds <= 0:
        raise BolLoginError(
            f"{login_label} returned a token that expires immediately (expires_in={seconds:g}); "
            "it cannot be used for any call."
        )
    return seconds


def refresh_token_in(body: str) -> str | None:
    """The ``refresh_token`` of a code-flow token response, if it carries one."""
    data = _json_object(body)
    value = data.get("refresh_token") if data is not None else None
    return value if isinstance(value, str) and value else None


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _shape(value: str) -> str:
    """What is wrong with a would-be JWT, without showing it."""
    if value != value.strip():
        return "it has leading or trailing whitespace or a line break"
    if any(c.isspace() for c in value):
        return "it contains whitespace"
    if len(value) > MAX_TOKEN_LENGTH:
        return f"it is longer than {MAX_TOKEN_LENGTH} characters"
    if value.count(".") != 2:
        return f"{value.count('.') + 1} dot-separated parts instead of 3"
    return "its parts are not base64url JSON"
