"""Access tokens for one connection: memory first, then the shared cache, then bol (single flight).

A refresh happens only under a lease in the shared state, so across every process and host one fetches a
new token while the others wait and then find it in the cache. The lease is renewed while held, so it
lasts the whole fetch, retries and Retry-After waits included; a process that cannot take it in time
raises a typed, retriable error and never fetches on its own. With rotating refresh tokens (the code
flow) only the newest one is valid: a refused refresh is retried with the stored refresh token when
another process stored a newer one meanwhile, and only declared dead when there is none. A 429 from the
token endpoint pauses that client's token requests in every process (not its API calls).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from bolsync_provider.auth.cache import RefreshTokenStore, TokenCache
from bolsync_provider.auth.login import Grant, RefreshTokenRefused, TokenEndpoint, refresh_grant
from bolsync_provider.auth.tokens import AccessToken
from bolsync_provider.budget.shared_state import SharedState, leased
from bolsync_provider.budget.shared_state.base import HeldLease
from bolsync_provider.errors import BolLeaseLost, BolRateLimited, BolTransportError
from bolsync_provider.settings import BolConnectionSettings
from bolsync_provider.transport.metrics import ApiMetrics
from bolsync_provider.transport.retry import RETRIABLE, backoff_ceiling, backoff_seconds, log_retry, wait_for_retry

log = logging.getLogger(__name__)

#: The refresh lease's TTL: it is renewed while held, so this only bounds how long a crashed holder blocks.
TOKEN_LEASE_TTL_SECONDS = 20.0
#: A holder that lost its lease (it stalled past the TTL) goes back to waiting at most this often.
MAX_LEASE_LOSSES = 2
#: A refused refresh is retried at most this often with a newer refresh token another process stored.
MAX_REFRESH_TOKEN_REREADS = 2


def refresh_wait_seconds(settings: BolConnectionSettings) -> float:
    """How long a process waits for another's refresh: the holder's whole retry schedule with every attempt
    timing out and every backoff at its ceiling, plus one lease TTL (a crashed holder's lease running out).
    A 429 pause of the token endpoint extends the wait by the pause (see :meth:`TokenProvider.get`)."""
    attempts = settings.max_attempts
    backoffs = sum(backoff_ceiling(attempt) for attempt in range(1, attempts))
    return attempts * settings.timeout_seconds + backoffs + TOKEN_LEASE_TTL_SECONDS


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
        self._metrics = metrics
        self._state = state
        self._endpoint = TokenEndpoint(settings, session, metrics, refresh_tokens)
        self._lease_name = f"token:{settings.credential_key}"
        #: bol's login service limits by client: one pause for every connection of the client id.
        self._pause_key = f"token-endpoint:{settings.client_id}"
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self._refresh_unanswered = False

    def get(self) -> AccessToken:
        """A token that is not within its refresh margin of expiry.

        Raises BolLeaseUnavailable (retriable) when another process's refresh outlasts the wait.
        """
        with self._lock:
            if self._token is not None and self._token.is_fresh(time.time()):
                return self._token
            cached = self._fresh_cached() or self._refresh()
            self._token = cached
            return cached

    def _refresh(self) -> AccessToken:
        """Single flight: whoever holds the lease fetches; the others wait and find its token in the cache."""
        losses = 0
        while True:
            try:
                with leased(
                    self._state,
                    self._lease_name,
                    ttl=TOKEN_LEASE_TTL_SECONDS,
                    wait=refresh_wait_seconds(self._settings),
                    extend=self._wait_longer_while_paused,
                ) as lease:
                    cached = self._fresh_cached()
                    if cached is not None:
                        return cached
                    token = self._fetch(lease)
                    self._cache.store(self._settings.conn_id, token)
                    return token
            except BolLeaseLost:
                losses += 1
                if losses > MAX_LEASE_LOSSES:
                    raise
                log.warning("Lost the token lease of connection '%s'; waiting for it again.", self._settings.conn_id)

    def _wait_longer_while_paused(self) -> float:
        """More time for a waiter while a 429 pauses the token endpoint (the holder waits it out)."""
        paused = self._state.paused_for([self._pause_key])
        return paused + self._settings.timeout_seconds + TOKEN_LEASE_TTL_SECONDS if paused > 0 else 0.0

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
            expired = replace(token, expires_at=0.0)
            cached = self._cache.load(self._settings.conn_id)
            if cached is None or cached.value == token.value:
                self._cache.store(self._settings.conn_id, expired)

    def _fetch(self, lease: HeldLease) -> AccessToken:
        self._refresh_unanswered = False
        retrying = Retrying(
            retry=retry_if_exception_type(RETRIABLE),
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=wait_for_retry,
            before_sleep=log_retry(self._metrics, f"token request of connection '{self._settings.conn_id}'"),
            sleep=lease.sleep,
            reraise=True,
        )
        return retrying(self._fetch_once, lease)

    def _fetch_once(self, lease: HeldLease) -> AccessToken:
        self._wait_out_token_pause(lease)
        grant = self._endpoint.grant()
        rereads = 0
        while True:
            lease.confirm()
            try:
                return self._request(grant)
            except RefreshTokenRefused as refused:
                newer = self._newer_refresh_token(grant["refresh_token"])
                if newer is None or rereads >= MAX_REFRESH_TOKEN_REREADS:
                    raise self._dead(refused) from None
            rereads += 1
            cached = self._fresh_cached()
            if cached is not None:
                log.info("Another process refreshed the token of connection '%s'; using it.", self._settings.conn_id)
                return cached
            log.info(
                "bol refused the refresh token of connection '%s', but a newer one is stored (another process "
                "rotated it); refreshing with that one.",
                self._settings.conn_id,
            )
            grant = refresh_grant(newer)

    def _request(self, grant: Grant) -> AccessToken:
        try:
            return self._endpoint.request(grant)
        except BolRateLimited as throttled:
            seconds = throttled.retry_after or backoff_seconds(2)
            self._state.pause(self._pause_key, seconds)
            log.warning(
                "bol's login service answered 429 for connection '%s': pausing the token requests of its client "
                "in every process for %.1fs.",
                self._settings.conn_id,
                seconds,
            )
            raise
        except BolTransportError:
            if grant["grant_type"] == "refresh_token":
                self._refresh_unanswered = True
            raise

    def _wait_out_token_pause(self, lease: HeldLease) -> None:
        paused = self._state.paused_for([self._pause_key])
        if paused > 0:
            log.info(
                "Token requests of connection '%s' are paused for %.1fs after a 429 from bol's login service.",
                self._settings.conn_id,
                paused,
            )
            lease.sleep(paused)

    def _newer_refresh_token(self, refused: str) -> str | None:
        """The stored refresh token when it differs from the refused one (rotated by another process)."""
        stored = self._endpoint.stored_refresh_token()
        return stored if stored and stored != refused else None

    def _dead(self, refused: RefreshTokenRefused) -> RefreshTokenRefused:
        if not self._refresh_unanswered:
            return refused
        return RefreshTokenRefused(
            f"{refused} An earlier refresh request of this fetch got no answer (timeout or dropped connection): "
            "bol may have rotated the refresh token in that lost answer.",
            status=refused.status,
        )
