"""The connection form's Test button: one token request and one cheap call, answered in a seller's words.

The test keeps everything it touches in memory (token, rate slots, token lease): a click leaves no Variable,
lease or cache entry behind, and it neither waits for nor disturbs the syncs sharing the credential. It sends
at most two attempts per request with a short timeout, so the button answers within seconds.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

import requests

from bolsync_provider.auth.cache import MemoryRefreshTokenStore, MemoryTokenCache
from bolsync_provider.auth.provider import TokenProvider
from bolsync_provider.budget.rate_budget import budget_for
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.errors import (
    BolApiError,
    BolAuthError,
    BolConfigError,
    BolError,
    BolLoginError,
    BolRateLimited,
    BolRetryLater,
    BolServerError,
    BolTransportError,
)
from bolsync_provider.settings import AUTHORIZATION_CODE, BolConnectionSettings
from bolsync_provider.transport.client import BolTransport
from bolsync_provider.transport.metrics import ApiMetrics

ORDERS_ENDPOINT = "GET /retailer/orders"
#: Attempts per request and the longest wait for an answer during a test.
TEST_ATTEMPTS = 2
TEST_TIMEOUT_SECONDS = 10.0
DASHBOARD = "bol's Seller Dashboard (Settings > API settings)"
INACTIVE_MARK = "not active"


def environment_name(settings: BolConnectionSettings) -> str:
    return "bol's demo environment" if settings.is_demo else "bol (production)"


def run_test(settings: BolConnectionSettings) -> tuple[bool, str]:
    """Fetch a token and make the environment's cheap call; ``(ok, message)`` for the Test button."""
    if settings.grant_type == AUTHORIZATION_CODE:
        return False, (
            "Not tested: this connection uses the authorization-code flow, and a test would "
            "spend its refresh token (bol rotates it on use). Run a sync task to check it."
        )
    quick = dataclasses.replace(
        settings,
        max_attempts=min(settings.max_attempts, TEST_ATTEMPTS),
        timeout_seconds=min(settings.timeout_seconds, TEST_TIMEOUT_SECONDS),
    )
    try:
        retailer_id = _probe(quick)
    except BolError as error:
        return False, explain(error, quick)
    where = environment_name(quick)
    if quick.is_demo:
        return True, (
            f"Connected to {where} as retailer {retailer_id}. The demo answers fixed examples, so bolsync does "
            "not sync this connection: set its environment to production to sync."
        )
    return True, f"Connected to {where} as retailer {retailer_id}."


def _probe(settings: BolConnectionSettings) -> str:
    state = MemorySharedState()
    metrics = ApiMetrics()
    with requests.Session() as session:
        session.headers["User-Agent"] = "bolsync (Apache Airflow)"
        tokens = TokenProvider(settings, MemoryTokenCache(), session, metrics, state, MemoryRefreshTokenStore())
        transport = BolTransport(settings, tokens, budget_for(settings, state), session, metrics)
        token = tokens.get()
        params: dict[str, Any] | None = None
        if not settings.is_demo:  # bol's demo answers only the requests its documentation lists
            params = {"page": 1, "fulfilment-method": "ALL", "status": "ALL", "change-interval-minute": 1}
        transport.get_json("/retailer/orders", endpoint=ORDERS_ENDPOINT, params=params)
    retailer_id = token.retailer_id or settings.retailer_id
    if not retailer_id:
        raise BolConfigError(
            "bol accepted the credentials, but its token names no retailer: set the connection's Retailer ID "
            "(extra retailer_id) to your bol retailer (seller) id."
        )
    return retailer_id


def explain(error: BolError, settings: BolConnectionSettings) -> str:
    """What ``error`` means for the seller, and what to do."""
    status = error.status if isinstance(error, BolApiError) else None
    detail = str(error)
    if isinstance(error, BolLoginError) and status == 404:
        return (
            f"bol's login service answered 404, which is how bol shows a blocked IP address. Wait, and contact bol "
            f"partner service if it persists. ({detail})"
        )
    if isinstance(error, BolLoginError) and status in (400, 401, 403):
        return (
            "bol does not accept this Client ID and Client Secret: one of them is wrong, or the credentials were "
            f"deleted. Copy both again from {DASHBOARD}, or create new ones there. ({detail})"
        )
    if isinstance(error, BolAuthError) and status == 403 and INACTIVE_MARK in detail.lower():
        return (
            "bol accepted the credentials but says the seller account is not active, so it refuses every call. "
            f"Check the account in the Seller Dashboard or contact bol partner service. ({detail})"
        )
    if isinstance(error, BolAuthError):
        return (
            f"bol accepted the credentials but refused the API call (HTTP {status}). Check that the credentials "
            f"belong to a Retailer API account in {DASHBOARD}. ({detail})"
        )
    if isinstance(error, BolTransportError):
        return (
            f"Could not reach bol: no answer from {_hosts(settings)}. Check the network, a proxy or firewall of "
            f"this Airflow, and the connection's API URL and Login URL. ({detail})"
        )
    if isinstance(error, BolServerError):
        return f"bol has a problem right now (HTTP {status}); try the test again later. ({detail})"
    if isinstance(error, BolRateLimited | BolRetryLater):
        return (
            f"bol asks to slow down (HTTP 429): the credentials are used a lot right now; try again later. ({detail})"
        )
    return detail


def _hosts(settings: BolConnectionSettings) -> str:
    hosts = dict.fromkeys(urlsplit(url).netloc for url in (settings.login_url, settings.api_url))
    return " or ".join(hosts)
