"""One request to bol's token endpoint: the grant to send, the answer as a token or a typed error, and a
rotated refresh token stored the moment it arrives."""

from __future__ import annotations

import logging
import time

import requests

from bolsync_provider import stats
from bolsync_provider.auth.cache import RefreshTokenStore
from bolsync_provider.auth.tokens import AccessToken, parse_token_response, refresh_token_in
from bolsync_provider.errors import BolLoginError
from bolsync_provider.redaction import remember
from bolsync_provider.settings import AUTHORIZATION_CODE, BolConnectionSettings
from bolsync_provider.transport.exchange import exchange
from bolsync_provider.transport.metrics import ApiMetrics
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

Grant = dict[str, str]


class RefreshTokenRefused(BolLoginError):
    """bol answered 400 to a refresh_token grant: the refresh token sent is no longer valid."""


class TokenEndpoint:
    """bol's token endpoint as one connection uses it (client credentials, or the code flow's refresh token)."""

    def __init__(
        self,
        settings: BolConnectionSettings,
        session: requests.Session,
        metrics: ApiMetrics,
        refresh_tokens: RefreshTokenStore | None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._metrics = metrics
        self._refresh_tokens = refresh_tokens
        self.label = f"bol login ({settings.login_url}) for connection '{settings.conn_id}'"

    def stored_refresh_token(self) -> str | None:
        """The code flow's refresh token as stored now (another process may have rotated it)."""
        return self._refresh_tokens.load(self._settings.conn_id) if self._refresh_tokens else None

    def grant(self) -> Grant:
        """The grant to send: client credentials, or the newest stored refresh token (code flow)."""
        if self._settings.grant_type != AUTHORIZATION_CODE:
            return {"grant_type": "client_credentials"}
        if self._refresh_tokens is not None:
            # Before the refresh: bol may rotate the token, and a rotated token that cannot be stored is lost.
            self._refresh_tokens.ensure_storable(self._settings.conn_id)
        refresh_token = self.stored_refresh_token() or self._settings.initial_refresh_token
        if not refresh_token:
            raise BolLoginError(
                f"connection '{self._settings.conn_id}' uses the authorization-code flow but has no refresh token "
                "yet. " + REAUTHORIZE_HINT.format(conn_id=self._settings.conn_id),
                status=None,
            )
        return refresh_grant(refresh_token)

    def request(self, grant: Grant) -> AccessToken:
        """Send ``grant`` once; the new token, or a typed error (:class:`RefreshTokenRefused` for a dead refresh
        token, BolLoginError for refused credentials, a retriable error for 429, 5xx and network failures)."""
        requested_at = time.time()
        self._metrics.add(token_requests=1)
        stats.token_request(self._settings.conn_id)
        response = exchange(
            self._session,
            "POST",
            self._settings.login_url,
            what=self.label,
            max_bytes=self._settings.max_response_bytes,
            timeout=self._settings.timeout_seconds,
            data=grant,
            auth=(self._settings.client_id, self._settings.client_secret),
            headers={"Accept": "application/json"},
        )
        self._raise_for_status(response, grant)
        token = parse_token_response(
            response.text, requested_at=requested_at, client_id=self._settings.client_id, login_label=self.label
        )
        remember(token.value)
        self._keep_rotated_refresh_token(grant, response.text)
        log.info(
            "Fetched a new access token for connection '%s' (valid %.0fs).", self._settings.conn_id, token.lifetime
        )
        return token

    def _raise_for_status(self, response: requests.Response, grant: Grant) -> None:
        body, status = response.text, response.status_code
        if grant["grant_type"] == "refresh_token" and status == 400:
            hint = REAUTHORIZE_HINT.format(conn_id=self._settings.conn_id)
            raise RefreshTokenRefused(
                f"{self.label}: bol no longer accepts the refresh token (HTTP 400: "
                f"{describe_body(body, parse_problem(body))}). {hint}",
                status=400,
            )
        if status in (400, 401, 403):
            raise BolLoginError(
                f"{self.label} refused the credentials (HTTP {status}: {describe_body(body, parse_problem(body))}). "
                f"{SETTINGS_HINT}",
                status=status,
            )
        if status == 404:
            raise BolLoginError(
                f"{self.label} answered 404: bol shows a blocked IP address this way. Stop the sync and "
                "contact bol partner service if this persists.",
                status=404,
            )
        failure = error_for_status(status, body, response.headers, request="POST token")
        if failure is not None:
            raise failure

    def _keep_rotated_refresh_token(self, grant: Grant, body: str) -> None:
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


def refresh_grant(refresh_token: str) -> Grant:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token}
