"""One HTTP call to the Retailer API: budget, bearer token, typed errors, retries, rate headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from bolsync_provider import stats
from bolsync_provider.auth.provider import TokenProvider
from bolsync_provider.budget.rate_budget import RateBudget
from bolsync_provider.errors import (
    BolAuthError,
    BolError,
    BolLoginError,
    BolRateLimited,
    BolTokenExpired,
)
from bolsync_provider.settings import BolConnectionSettings
from bolsync_provider.transport.body import decode_json
from bolsync_provider.transport.exchange import exchange
from bolsync_provider.transport.metrics import ApiMetrics
from bolsync_provider.transport.retry import RETRIABLE, backoff_seconds, log_retry, wait_for_retry
from bolsync_provider.transport.status import error_for_status

log = logging.getLogger(__name__)

V10_JSON = "application/vnd.retailer.v10+json"
#: X-RateLimit-Reset above this is an epoch timestamp, below it a number of seconds (as bol documents it).
_EPOCH_THRESHOLD = 1_000_000_000


class BolTransport:
    """Sends requests for one connection; retries what can succeed later, raises typed errors."""

    def __init__(
        self,
        settings: BolConnectionSettings,
        tokens: TokenProvider,
        budget: RateBudget,
        session: requests.Session,
        metrics: ApiMetrics,
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._budget = budget
        self._session = session
        self._metrics = metrics

    def get_json(
        self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None, accept: str = V10_JSON
    ) -> Any:
        """GET ``path`` and return the decoded JSON body (``None`` for an empty body)."""
        response = self.request("GET", path, endpoint=endpoint, params=params, accept=accept)
        return decode_json(response, endpoint)

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        accept: str = V10_JSON,
        json_body: Any = None,
    ) -> requests.Response:
        """Send one logical request, with capped retries for 429, 5xx, timeouts and dropped connections."""
        retrying = Retrying(
            retry=retry_if_exception_type(RETRIABLE),
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=wait_for_retry,
            before_sleep=log_retry(self._metrics, f"{endpoint} (connection '{self._settings.conn_id}')"),
            reraise=True,
        )
        return retrying(self._attempt, method, path, endpoint, params, accept, json_body)

    def _attempt(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        accept: str,
        json_body: Any,
    ) -> requests.Response:
        try:
            return self._send(method, path, endpoint, params, accept, json_body)
        except BolAuthError as error:
            if error.status != 401 or isinstance(error, BolLoginError):
                raise
            reason = "expired" if isinstance(error, BolTokenExpired) else "was rejected"
            log.info("bol says the access token %s; fetching a new one and retrying once.", reason)
            return self._send(method, path, endpoint, params, accept, json_body)

    def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        accept: str,
        json_body: Any,
    ) -> requests.Response:
        token = self._tokens.get()  # first: a refresh wait must not delay a send the budget has recorded
        headers = {"Accept": accept, "Authorization": f"Bearer {token.value}"}
        if json_body is not None:
            headers["Content-Type"] = accept
        waited = self._budget.acquire(endpoint)  # records the send: nothing slow between it and the request
        self._metrics.add(api_calls=1, rate_wait_seconds=waited)
        try:
            response = exchange(
                self._session,
                method,
                self._settings.api_url + self._settings.api_path(path),
                what=endpoint,
                max_bytes=self._settings.max_response_bytes,
                timeout=self._settings.timeout_seconds,
                params=params,
                json=json_body,
                headers=headers,
            )
        except BolError:
            stats.api_call(self._settings.conn_id, endpoint, "error")
            raise
        finally:
            stats.rate_wait(self._settings.conn_id, endpoint, waited)
        stats.api_call(self._settings.conn_id, endpoint, response.status_code)
        stats.rate_limit_remaining(self._settings.conn_id, endpoint, response.headers.get("X-RateLimit-Remaining"))
        self._learn_from_rate_headers(response, endpoint)
        failure = error_for_status(response.status_code, response.text, response.headers, request=endpoint)
        if isinstance(failure, BolAuthError) and failure.status == 401:
            self._tokens.invalidate(token)
        if isinstance(failure, BolRateLimited):
            self._metrics.add(throttled=1)
            stats.throttled(self._settings.conn_id, endpoint)
            pause = failure.retry_after or backoff_seconds(2)  # "Retry-After: 0" from a throttling bol is not 0
            self._budget.pause(pause, f"429 on {endpoint}")
        if failure is not None:
            raise failure
        return response

    def _learn_from_rate_headers(self, response: requests.Response, endpoint: str) -> None:
        """``X-RateLimit-Remaining: 0`` means: wait for the reset before the next call."""
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is None or reset is None or response.status_code == 429:
            return
        try:
            remaining_n, reset_n = int(remaining), float(reset)
        except ValueError:
            return
        if remaining_n > 0:
            return
        seconds = reset_n - time.time() if reset_n > _EPOCH_THRESHOLD else reset_n
        if 0 < seconds <= 3600:
            self._budget.pause(seconds, f"X-RateLimit-Remaining 0 on {endpoint}", endpoint=endpoint)
