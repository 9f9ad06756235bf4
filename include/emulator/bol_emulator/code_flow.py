"""The authorization-code flow ("intermediary authorization"): one-time codes and refresh tokens."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROTATIONS = ("rotating", "static")
CODE_LIFETIME = 600  # seconds
REFRESH_LIFETIME = 365 * 24 * 3600  # picqer measured one year


class GrantError(Exception):
    """An OAuth2 error answered with 400 ``{"error": "invalid_grant", ...}``."""


def _b64url(raw: dict[str, Any]) -> str:
    text = json.dumps(raw, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode("ascii")


def refresh_token_string(expires_at: float) -> str:
    """An unsigned JWT (``alg: none``, ``exp``, ``jti``) like bol's refresh tokens."""
    return f"{_b64url({'alg': 'none'})}.{_b64url({'exp': int(expires_at), 'jti': str(uuid.uuid4())})}."


@dataclass
class Authorization:
    """What a retailer granted a partner: one code, later the (newest) refresh token."""

    code: str
    client_id: str
    redirect_uri: str
    rotation: str
    code_expires_at: float
    refresh_lifetime: float
    refresh_token: str | None = None
    refresh_expires_at: float = 0.0
    code_used: bool = False
    revoked: bool = False
    refreshes: int = 0

    def state(self, now: float) -> str:
        if self.revoked:
            return "revoked"
        if not self.code_used:
            return "issued" if now < self.code_expires_at else "code_expired"
        return "active" if now < self.refresh_expires_at else "expired"


class CodeFlow:
    """Codes and authorizations of the code flow; thread-safe, so concurrent refreshes serialize."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.by_code: dict[str, Authorization] = {}
        self.by_refresh: dict[str, Authorization] = {}

    def reset(self) -> None:
        with self.lock:
            self.by_code.clear()
            self.by_refresh.clear()

    def create_code(
        self,
        client_id: str,
        redirect_uri: str,
        rotation: str = "rotating",
        expires_in: float = CODE_LIFETIME,
        refresh_lifetime: float = REFRESH_LIFETIME,
    ) -> str:
        """A new one-time code, as if the retailer had just approved the partner."""
        if rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {', '.join(ROTATIONS)}")
        code = secrets.token_urlsafe(12)
        with self.lock:
            now = self.clock()
            self.by_code[code] = Authorization(
                code, client_id, redirect_uri, rotation, now + expires_in, refresh_lifetime
            )
        return code

    def exchange(self, client_id: str, code: str, redirect_uri: str) -> str:
        """The first refresh token for ``code``. A second use of a code revokes its authorization (RFC 6749
        4.1.2), so tokens issued from it stop refreshing."""
        with self.lock:
            now = self.clock()
            grant = self.by_code.get(code)
            if grant is None or grant.client_id != client_id:
                raise GrantError("Invalid authorization code")
            if grant.code_used:
                self._revoke(grant)
                raise GrantError("Authorization code has already been used")
            if grant.revoked:
                raise GrantError("Authorization has been revoked")
            if now >= grant.code_expires_at:
                raise GrantError("Authorization code has expired")
            if redirect_uri != grant.redirect_uri:
                raise GrantError("Redirect URI does not match the one of the authorization request")
            grant.code_used = True
            return self._new_refresh(grant, now)

    def refresh(self, client_id: str, refresh_token: str) -> tuple[Authorization, str]:
        """``(authorization, refresh token to hand out)``: a new one when rotating, else the same."""
        with self.lock:
            now = self.clock()
            grant = self.by_refresh.get(refresh_token)
            if grant is None or grant.client_id != client_id or grant.revoked:
                raise GrantError("Invalid refresh token")
            if now >= grant.refresh_expires_at:
                raise GrantError("Refresh token has expired")
            grant.refreshes += 1
            if grant.rotation == "rotating":
                return grant, self._new_refresh(grant, now)
            return grant, refresh_token

    def _new_refresh(self, grant: Authorization, now: float) -> str:
        if grant.refresh_token is not None:
            self.by_refresh.pop(grant.refresh_token, None)  # only the newest stays valid
        if grant.refresh_expires_at == 0.0:
            grant.refresh_expires_at = now + grant.refresh_lifetime
        token = refresh_token_string(grant.refresh_expires_at)
        grant.refresh_token = token
        self.by_refresh[token] = grant
        return token

    def _revoke(self, grant: Authorization) -> None:
        grant.revoked = True
        if grant.refresh_token is not None:
            self.by_refresh.pop(grant.refresh_token, None)

    def revoke(self, code: str) -> bool:
        """Revoke the authorization created with ``code`` (False if unknown)."""
        with self.lock:
            grant = self.by_code.get(code)
            if grant is None:
                return False
            self._revoke(grant)
            return True

    def snapshot(self) -> list[dict[str, Any]]:
        """The JSON of ``GET /_emulator/authorization-codes``."""
        with self.lock:
            now = self.clock()
            return [
                {
                    "code": g.code,
                    "client_id": g.client_id,
                    "redirect_uri": g.redirect_uri,
                    "rotation": g.rotation,
                    "state": g.state(now),
                    "refreshes": g.refreshes,
                }
                for g in self.by_code.values()
            ]
