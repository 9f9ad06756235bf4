"""Access tokens: parsing bol's token response and reading the JWT claims we rely on.

Defined behaviour for tokens that are not what bol documents (see tests/fixtures/bol_api):
- a JWT with ``exp``: lifetime = ``exp - iat`` (server clock), counted from when we sent the request;
- no readable ``exp`` (opaque token): fall back to ``expires_in``;
- ``expires_in`` missing or empty as well: assume a conservative 60 s (a 401 "Expired JWT" still
  triggers one refresh), with a warning;
- ``expires_in`` <= 0, no/empty ``access_token``, a ``token_type`` other than Bearer (any case), or a
  body that is not a JSON object: refused with :class:`BolLoginError`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

import jwt

from bolsync_provider.errors import BolLoginError

log = logging.getLogger(__name__)

FALLBACK_LIFETIME_SECONDS = 60.0
_SELLER_ID = re.compile(r"\bSLR:(\d+)\b")


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it stops being usable (epoch seconds, our clock)."""

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

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AccessToken | None:
        """Parse a cached token; None for anything unreadable (the cache is then ignored)."""
        try:
            data = json.loads(text)
            return cls(
                value=str(data["value"]),
                issued_at=float(data["issued_at"]),
                expires_at=float(data["expires_at"]),
                client_id=str(data["client_id"]),
                retailer_id=data.get("retailer_id"),
            )
        except (ValueError, KeyError, TypeError):
            return None


def read_claims(token: str) -> dict[str, Any]:
    """The JWT payload without verifying the signature (we are the audience, not the verifier)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def retailer_id_from_claims(claims: dict[str, Any]) -> str | None:
    """The seller id from ``aid`` ("CLNTC:<uuid> SLR:<retailer id>"), if present."""
    match = _SELLER_ID.search(str(claims.get("aid", "")))
    return match.group(1) if match else None


def parse_token_response(body: str, *, requested_at: float, client_id: str, login_label: str) -> AccessToken:
    """Turn a 200 token response body into an AccessToken, or raise BolLoginError explaining why not."""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BolLoginError(f"{login_label} answered 200 without a JSON token object.")
    value = data.get("access_token")
    if not isinstance(value, str) or not value:
        raise BolLoginError(f"{login_label} answered 200 without an access_token.")
    token_type = str(data.get("token_type", "")).lower()
    if token_type != "bearer":  # noqa: S105 (a token type, not a password)
        raise BolLoginError(
            f"{login_label} returned token_type {data.get('token_type')!r}; only Bearer tokens can be used."
        )
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
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, int | float) and isinstance(iat, int | float) and exp > iat:
        return float(exp - iat)
    if expires_in in (None, ""):
        if isinstance(exp, int | float):
            log.warning("Token has exp but no iat and no expires_in; assuming %ss.", FALLBACK_LIFETIME_SECONDS)
        else:
            log.warning(
                "%s returned no expiry (no JWT exp, no expires_in); assuming %ss and refreshing on 401.",
                login_label,
                FALLBACK_LIFETIME_SECONDS,
            )
        return FALLBACK_LIFETIME_SECONDS
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        raise BolLoginError(f"{login_label} returned an unreadable expires_in {expires_in!r}.") from None
    if seconds <= 0:
        raise BolLoginError(
            f"{login_label} returned a token that expires immediately (expires_in={expires_in!r}); "
            "it cannot be used for any call."
        )
    return seconds


def refresh_token_in(body: str) -> str | None:
    """The ``refresh_token`` of a code-flow token response, if it carries one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("refresh_token") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None
