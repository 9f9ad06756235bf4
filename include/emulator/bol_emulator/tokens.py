"""RS256 access tokens shaped like login.bol.com's, signed with a key made at start-up."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bol_emulator.config import AccountConfig

ISSUER = "https://login.bol.com"
KEY_ID = "rsa3"
CLOCK_SKEW_MS = 1000


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of verifying a bearer token: ``client_id`` is set when the signature is ours."""

    client_id: str | None
    error: str | None = None  # None, "invalid" or "expired"
    detail: str = ""


def _zulu(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenService:
    """Issues and verifies the emulator's JWTs."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()

    def issue(self, account: AccountConfig, lifetime: int, now: float | None = None) -> str:
        """A token for ``account`` valid for ``lifetime`` seconds."""
        iat = int(now if now is not None else time.time())
        claims = {
            "sub": account.client_id,
            "azp": account.client_id,
            "clientname": account.client_id,
            "iss": ISSUER,
            "scopes": "RETAILER",
            "iat": iat,
            "exp": iat + lifetime,
            "aid": f"CLNTC:{uuid.uuid5(uuid.NAMESPACE_URL, 'bol-emulator:' + account.client_id)} "
            f"SLR:{account.retailer_id}",
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KEY_ID})

    def verify(self, token: str, now: float | None = None) -> TokenCheck:
        """Check signature and expiry (with bol's 1000 ms clock skew)."""
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                issuer=ISSUER,
                options={"verify_exp": False, "verify_aud": False, "require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            return TokenCheck(None, "invalid", str(exc))
        client_id = str(claims["sub"])
        now_ms = int((now if now is not None else time.time()) * 1000)
        exp_ms = int(claims["exp"]) * 1000
        if now_ms - exp_ms > CLOCK_SKEW_MS:
            detail = (
                f"JWT expired at {_zulu(exp_ms)}. Current time: {_zulu(now_ms)}, a difference of "
                f"{now_ms - exp_ms} milliseconds.  Allowed clock skew: {CLOCK_SKEW_MS} milliseconds."
            )
            return TokenCheck(client_id, "expired", detail)
        return TokenCheck(client_id)
