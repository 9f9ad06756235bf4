"""Access tokens for one connection: memory first, then the shared cache, then bol (single-flight).

A refresh happens under a lease in the shared state, so across every process and worker one fetches
a new token while the others wait briefly and reuse it from the cache. The code flow (intermediary
partners) refreshes with the stored refresh token under the same lease, because with rotating refresh
tokens only the newest one is valid.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from bolsync_provider import stats
from bolsync_provider.auth.cache import RefreshTokenStore, TokenCache
from bolsync_provider.auth.tokens import AccessToken, parse_token_response, refresh_token_in
from bolsync_provider.budget.shared_state import SharedState, leased
from bolsync_provider.errors import BolLoginError
from bolsync_provider.redaction import remember
from bolsync_provider.settings import AUTHORIZATION_CODE, BolConnectionSettings
from bolsync_provider.transport.exchange import exchange
from bolsync_provider.transport.metrics import ApiMetrics
from bolsync_provider.transport.retry import RETRIABLE, log_retry, wait_for_retry
from bolsync_provider.transport.status import describe_body, error_for_status, parse_problem

log = logging.getLogger(__name__)

SETTINGS_HINT = (
    "Check the Client ID and Client Secret of the connection; if they are right, the credentials may "
    "have been revoked: create new ones in the bol Seller Dashboard (Settings > API settings)."
)
REAUTHORIZE_HINT = (
    "The seller may have revoked the authorization (Settings > Services > API settings > Authorized parties) "
    "or it expired: have the seller authorize again, then store the new code with "
    "`python -m bolsync_provider.auth.authorize --conn-id {conn_id} --code CODE --redirect-uri URI`."
)


class TokenProvider:
    """Hands out a fresh access token; fetches one only when the cached one nears expiry."""

    def __init__(
        self,
        settings: BolConnectionSettings,
        cache: TokenCache,
        session: requests.Session,
        metrics: ApiMetrics,
        state: SharedState,
        refresh_tokens: RefreshTokenStore | None = None,
    ) -> None:
        self._settings = settings
        self._cache = cache
        self._session = session
        self._metrics = metrics
        self._state = state
        self._refresh_tokens = refresh_tokens
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def get(self) -> AccessToken:
        """A token that is not within its refresh margin of expiry."""
        with self._lock:
            if self._token is not None and self._token.is_fresh(time.time()):
                return self._token
            cached = self._fresh_cached()
            if cached is None:
                # Single flight: whoever holds the lease fetches; the others find its token in the cache.
                ttl = self._settings.timeout_seconds * self._settings.max_attempts + 30
                with leased(self._state, f"token:{self._settings.credential_key}", ttl=ttl, wait=ttl):
                    cached = self._fresh_cached()
                    if cached is None:
                        cached = self._fetch()
                        self._cache.store(self._settings.conn_id, cached)
            self._token = cached
            return cached

    def _fresh_cached(self) -> AccessToken | None:
        cached = self._cache.load(self._settings.conn_id)
        if cached is not None and cached.client_id == self._settings.client_id and cached.is_fresh(time.time()):
            return cached
        return None

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token`` (bol said it expired) so the next :meth:`get` fetches a new one."""
        with self._lock:
            if self._token is not None and self._token.value == token.value:
                self._token = None
            expired = AccessToken(
                value=token.value, issued_at=token.issued_at, expires_at=0.0, client_id=token.client_id
            )
            cached = self._cache.load(self._settings.conn_id)
            if cached is None or cached.value == token.value:
                self._cache.store(self._settings.conn_id, expired)

    def _fetch(self) -> AccessToken:
        retrying = Retrying(
            retry=retry_if_exception_type(RETRIABLE),
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=wait_for_retry,
            before_sleep=log_retry(self._metrics, f"token request of connection '{self._settings.conn_id}'"),
            reraise=True,
        )
        return retrying(self._fetch_once)

    def _grant(self) -> dict[str, str]:
        if self._settings.grant_type != AUTHORIZATION_CODE:
            return {"grant_type": "client_credentials"}
        if self._refresh_tokens is not None:
            # Before the refresh: bol may rotate the token, and a rotated token that cannot be stored is lost.
            self._refresh_tokens.ensure_storable(self._settings.conn_id)
        stored = self._refresh_tokens.load(self._settings.conn_id) if self._refresh_tokens else None
        refresh_token = stored or self._settings.initial_refresh_token
        if not refresh_token:
            raise BolLoginError(
                f"connection '{self._settings.conn_id}' uses the authorization-code flow but has no refresh token "
                "yet. " + REAUTHORIZE_HINT.format(conn_id=self._settings.conn_id),
                status=None,
            )
        return {"grant_type": "refresh_token", "refresh_token": refresh_token}

    def _fetch_once(self) -> AccessToken:
        label = f"bol login ({self._settings.login_url}) for connection '{self._settings.conn_id}'"
        grant = self._grant()
        requested_at = time.time()
        self._metrics.add(token_requests=1)
        stats.token_request(self._settings.conn_id)
        response = exchange(
            self._session,
            "POST",
            self._settings.login_url,
            what=label,
            max_bytes=self._settings.max_response_bytes,
            timeout=self._settings.timeout_seconds,
            data=grant,
            auth=(self._settings.client_id, self._settings.client_secret),
            headers={"Accept": "application/json"},
        )
        body = response.text
        if grant["grant_type"] == "refresh_token" and response.status_code == 400:
            hint = REAUTHORIZE_HINT.format(conn_id=self._settings.conn_id)
            raise BolLoginError(
                f"{label}: bol no longer accepts the refresh token (HTTP 400: "
                f"{describe_body(body, parse_problem(body))}). {hint}",
                status=400,
            )
        if response.status_code in (400, 401, 403):
            raise BolLoginError(
                f"{label} refused the credentials (HTTP {response.status_code}: "
                f"{describe_body(body, parse_problem(body))}). {SETTINGS_HINT}",
                status=response.status_code,
            )
        if response.status_code == 404:
            raise BolLoginError(
                f"{label} answered 404: bol shows a blocked IP address this way. Stop the sync and "
                "contact bol partner service if this persists.",
                status=404,
            )
        failure = error_for_status(response.status_code, body, response.headers, request="POST token")
        if failure is not None:
            raise failure
        token = parse_token_response(
            body, requested_at=requested_at, client_id=self._settings.client_id, login_label=label
        )
        remember(token.value)
        self._keep_rotated_refresh_token(grant, body)
        log.info(
            "Fetched a new access token for connection '%s' (valid %.0fs).",
            self._settings.conn_id,
            token.lifetime,
        )
        return token

    def _keep_rotated_refresh_token(self, grant: dict[str, str], body: str) -> None:
        """Store a new refresh token at once: after rotation the old one no longer works."""
        new = refresh_token_in(body)
        if grant["grant_type"] != "refresh_token" or not new or new == grant["refresh_token"]:
            return
        remember(new)
        if self._refresh_tokens is None:
            raise BolLoginError(
                f"connection '{self._settings.conn_id}': bol rotated the refresh token but there is no store for it.",
                status=None,
            )
        self._refresh_tokens.store(self._settings.conn_id, new)
        log.info("Stored the rotated refresh token of connection '%s'.", self._settings.conn_id)
