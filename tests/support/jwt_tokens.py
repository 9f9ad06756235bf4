"""RS256 test tokens shaped like bol's (kid rsa3, aid "CLNTC:<uuid> SLR:<id>")."""

from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


@lru_cache(maxsize=1)
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_jwt(
    *, lifetime: int = 300, retailer_id: str | None = "1234567", client_id: str = "client-x", **extra: object
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": client_id,
        "azp": client_id,
        "iss": "https://login.bol.com",
        "scopes": "RETAILER",
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    if retailer_id is not None:
        claims["aid"] = f"CLNTC:{uuid.uuid4()} SLR:{retailer_id}"
    claims.update(extra)
    return jwt.encode(claims, _key(), algorithm="RS256", headers={"kid": "rsa3"})


def token_body(access_token: str, *, expires_in: object = 299, token_type: str = "Bearer") -> bytes:
    return json.dumps(
        {
            "access_token": access_token,
            "token_type": token_type,
            "expires_in": expires_in,
            "scope": "RETAILER",
        }
    ).encode()
