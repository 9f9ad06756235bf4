"""Where access tokens are kept between task processes.

The default cache is an Airflow Variable per connection: its key contains ``token`` so Airflow masks
the value in the UI and REST API, and it is Fernet-encrypted at rest when ``[core] fernet_key`` is set.
Every token read or written is registered with the secrets masker of this process (Airflow masks the
Variable's whole JSON text, not the token inside it). Variables have no compare-and-set, so refreshes are
serialised by a lease in the shared state (see auth.provider.TokenProvider): one process fetches, the
others reuse. A refresh token is stored only when a Fernet key is configured (it would lie in the metadata
database in plain text otherwise).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from bolsync_provider.auth.tokens import AccessToken
from bolsync_provider.config import fernet_key_configured, get_variable, set_variable
from bolsync_provider.errors import BolConfigError
from bolsync_provider.redaction import remember

log = logging.getLogger(__name__)


class TokenCache(Protocol):
    """Load and store one access token per connection id."""

    def load(self, conn_id: str) -> AccessToken | None: ...

    def store(self, conn_id: str, token: AccessToken) -> None: ...


def variable_key(conn_id: str) -> str:
    """The Variable holding a connection's token; contains 'access_token' so Airflow masks it."""
    return f"bolsync_access_token__{conn_id}"


class VariableTokenCache:
    """Token cache in an Airflow Variable (task SDK inside tasks, the metadata DB elsewhere)."""

    def load(self, conn_id: str) -> AccessToken | None:
        try:
            text = get_variable(variable_key(conn_id))
        except Exception as error:  # a broken cache must not break the sync: fetch a new token
            log.warning("Could not read the token cache Variable (%s); fetching a new token.", type(error).__name__)
            return None
        token = AccessToken.from_json(text) if text else None
        if token is not None:
            remember(token.value)
        return token

    def store(self, conn_id: str, token: AccessToken) -> None:
        remember(token.value)
        try:
            set_variable(
                variable_key(conn_id),
                token.to_json(),
                description=f"bolsync: cached bol.com access token of connection {conn_id} (managed)",
            )
        except Exception as error:  # the token still works for this process
            log.warning("Could not write the token cache Variable (%s).", type(error).__name__)


class MemoryTokenCache:
    """Process-local cache, for unit tests and scripts outside Airflow."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()

    def load(self, conn_id: str) -> AccessToken | None:
        with self._lock:
            return self._tokens.get(conn_id)

    def store(self, conn_id: str, token: AccessToken) -> None:
        with self._lock:
            self._tokens[conn_id] = token


class RefreshTokenStore(Protocol):
    """Load and store the code flow's refresh token of a connection (rotating: only the newest works)."""

    def load(self, conn_id: str) -> str | None: ...

    def store(self, conn_id: str, refresh_token: str) -> None: ...

    def ensure_storable(self, conn_id: str) -> None:
        """Raise BolConfigError if a refresh token could not be stored (checked before bol issues one)."""
        ...


def refresh_variable_key(conn_id: str) -> str:
    """The Variable holding a connection's refresh token; contains 'token' so Airflow masks it."""
    return f"bolsync_refresh_token__{conn_id}"


class VariableRefreshTokenStore:
    """Refresh tokens in a masked, Fernet-encrypted Variable; a failed write is an error, not a warning."""

    def load(self, conn_id: str) -> str | None:
        value = get_variable(refresh_variable_key(conn_id))
        remember(value)
        return value

    def ensure_storable(self, conn_id: str) -> None:
        if not fernet_key_configured():
            raise BolConfigError(
                f"connection '{conn_id}': refusing to store its refresh token because Airflow has no "
                "[core] fernet_key: the token would be kept in the metadata database in plain text. Set "
                "[core] fernet_key (AIRFLOW__CORE__FERNET_KEY, the same on every Airflow component), then "
                "authorize again."
            )

    def store(self, conn_id: str, refresh_token: str) -> None:
        self.ensure_storable(conn_id)
        remember(refresh_token)
        set_variable(
            refresh_variable_key(conn_id),
            refresh_token,
            description=f"bolsync: refresh token of connection {conn_id} (managed; rotates on use)",
        )


class MemoryRefreshTokenStore:
    """Process-local refresh tokens, for unit tests."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self.tokens: dict[str, str] = dict(initial or {})

    def load(self, conn_id: str) -> str | None:
        return self.tokens.get(conn_id)

    def ensure_storable(self, conn_id: str) -> None:
        return None

    def store(self, conn_id: str, refresh_token: str) -> None:
        self.tokens[conn_id] = refresh_token
