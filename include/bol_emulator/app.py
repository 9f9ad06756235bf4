"""The emulator's request pipeline, independent of the HTTP server: token endpoint, API and control."""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from bol_emulator import control, orders_api, problems, token_grants
from bol_emulator.code_flow import CodeFlow
from bol_emulator.config import EmulatorConfig
from bol_emulator.faults import FaultBook, FaultRule
from bol_emulator.problems import PLAIN_JSON, V10_JSON, Response
from bol_emulator.ratelimit import Decision, RateLimiter, credential_limit
from bol_emulator.stats import Stats
from bol_emulator.tokens import TokenCheck, TokenService
from bol_emulator.world import World

LIST_ENDPOINT = "GET /retailer/orders"
DETAIL_ENDPOINT = "GET /retailer/orders/{order-id}"
TOKEN_ENDPOINT = "POST /token"
DETAIL_RE = re.compile(r"^/retailer/orders/([^/]+)$")
ACCEPTABLE = {"*/*", "application/*", V10_JSON}


@dataclass
class Request:
    """A parsed HTTP request (header names lower-cased, first value of each query parameter)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, query = target.partition("?")
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        return cls(method, path, params, {k.lower(): v for k, v in headers.items()}, body)


@dataclass
class Settings:
    """Runtime knobs, changeable via ``POST /_emulator/config``."""

    rate_scale: float
    retry_after: bool
    token_lifetime: int
    code_flow_token_lifetime: int
    credential_rate_per_second: float | None

    @classmethod
    def of(cls, config: EmulatorConfig) -> Settings:
        return cls(
            config.rate_scale,
            config.retry_after,
            config.token_lifetime,
            config.code_flow_token_lifetime,
            config.credential_rate_per_second,
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def accepts_v10(accept: str | None) -> bool:
    """Whether an ``Accept`` header allows ``application/vnd.retailer.v10+json`` (a missing one does)."""
    if accept is None or not accept.strip():
        return True
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        zero_q = any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        if media.lower() in ACCEPTABLE and not zero_q:
            return True
    return False


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(client_id, secret)`` from an ``Authorization: Basic`` header."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def bearer_token(header: str | None) -> str | None:
    if not header or not header.lower().startswith("bearer "):
        return None
    return header[7:].strip() or None


class Emulator:
    """All emulator state plus ``handle(request) -> Response``."""

    def __init__(self, config: EmulatorConfig, base_url: str = "") -> None:
        self.config = config
        self.base_url = base_url
        self.settings = Settings.of(config)
        self.world = World(config)
        self.tokens = TokenService()
        self.code_flow = CodeFlow()
        self.limiter = RateLimiter()
        self.limiter.overrides[TOKEN_ENDPOINT] = config.token_rate_limit
        self.faults = FaultBook()
        self.stats = Stats()
        self.secrets = {a.client_id: a.client_secret for a in config.accounts}

    def reset(self) -> None:
        """Back to the state right after start: the same world again, no faults, zero counters."""
        self.world = World(self.config, anchor=self.world.generated_at)
        self.settings = Settings.of(self.config)
        self.code_flow.reset()
        self.faults.clear()
        self.stats.reset()
        self.limiter.reset()

    def handle(self, request: Request) -> Response:
        """Route one request."""
        if request.path.startswith("/_emulator/"):
            return control.handle(self, request)
        if request.path == "/token":
            return self._token(request)
        return self._api(request)

    def _fault(self, rule: FaultRule | None, retry_after_default: bool, decision: Decision) -> Response | None:
        """The response an injected fault replaces, or None (``slow`` only delays)."""
        if rule is None:
            return None
        self.stats.record_fault(rule.kind)
        if rule.kind == "slow":
            time.sleep(rule.seconds)
            return None
        if rule.kind == "drop_connection":
            return Response(0, drop=True)
        if rule.kind == "server_error":
            return problems.html_error(rule.status)
        seconds = max(1, round(rule.seconds))
        response = problems.too_many_requests(seconds, rule.retry_after and retry_after_default)
        response.headers.update({**decision.headers(), "X-RateLimit-Remaining": "0"})
        return response

    def _token(self, request: Request) -> Response:
        arrival = time.time()
        credentials = basic_credentials(request.headers.get("authorization"))
        client = credentials[0] if credentials else "-"
        form = token_grants.form_of(request)
        self.stats.record_token(client, token_grants.grant_label(form))
        response = self._token_response(request, credentials, client, form)
        endpoint = f"{request.method} /token"
        self.stats.record_request(endpoint, "dropped" if response.drop else str(response.status))
        self.stats.timeline.record(client, "token", arrival, 0 if response.drop else response.status)
        return response

    def _token_response(
        self, request: Request, credentials: tuple[str, str] | None, client: str, form: dict[str, str]
    ) -> Response:
        scale = self.settings.rate_scale
        peek = self.limiter.check(client, TOKEN_ENDPOINT, scale, consume=False)
        faulted = self._fault(self.faults.take(credentials[0] if credentials else None, request.path), True, peek)
        if faulted is not None:
            return faulted
        if request.method != "POST":
            response = problems.json_response(405, {"error": "method_not_allowed"}, PLAIN_JSON)
            response.headers["Allow"] = "POST"
            return response
        decision = self.limiter.check(client, TOKEN_ENDPOINT, scale)
        if not decision.allowed:
            self.stats.record_throttled(client)
            response = problems.too_many_requests(decision.reset, self.settings.retry_after, PLAIN_JSON)
        else:
            response = self._issue(credentials, form)
        response.headers.update(decision.headers())
        return response

    def _issue(self, credentials: tuple[str, str] | None, form: dict[str, str]) -> Response:
        if credentials is None or self.secrets.get(credentials[0]) != credentials[1]:
            return problems.invalid_client()
        if self.faults.is_revoked(credentials[0]):
            return problems.invalid_client()
        return token_grants.issue(self, credentials[0], form)

    def _route(self, request: Request) -> tuple[str, str | None]:
        """``(endpoint template, order id)`` for an API path."""
        if request.path == "/retailer/orders":
            return f"{request.method} /retailer/orders", None
        match = DETAIL_RE.match(request.path)
        if match:
            return f"{request.method} /retailer/orders/{{order-id}}", unquote(match.group(1))
        return f"{request.method} {request.path}", None

    def _api(self, request: Request) -> Response:
        arrival = time.time()
        endpoint, order_id = self._route(request)
        token = bearer_token(request.headers.get("authorization"))
        check = self.tokens.verify(token) if token else None
        client = check.client_id if check and check.client_id in self.secrets else None
        if client is not None:
            self.stats.record_api(client)
        response = self._api_response(request, endpoint, order_id, check, client)
        self.stats.record_request(endpoint, "dropped" if response.drop else str(response.status))
        if client is not None:
            self.stats.timeline.record(client, "api", arrival, 0 if response.drop else response.status)
        return response

    def _api_response(
        self,
        request: Request,
        endpoint: str,
        order_id: str | None,
        check: TokenCheck | None,
        client: str | None,
    ) -> Response:
        scale = self.settings.rate_scale
        decision = self.limiter.check(client or "-", endpoint, scale, consume=False)
        response = self._fault(self.faults.take(client, request.path), self.settings.retry_after, decision)
        if response is None:
            response, decision = self._authorized(request, endpoint, order_id, check, client, decision)
        if not response.drop:
            for key, value in decision.headers().items():
                response.headers.setdefault(key, value)
        return response

    def _authorized(
        self,
        request: Request,
        endpoint: str,
        order_id: str | None,
        check: TokenCheck | None,
        client: str | None,
        peek: Decision,
    ) -> tuple[Response, Decision]:
        instance = f"{self.base_url}{request.path}"
        if check is None or client is None or check.error == "invalid":
            return problems.unauthorized(instance), peek
        if check.error == "expired":
            return problems.expired_jwt(check.detail), peek
        if self.faults.is_inactive(client):
            return problems.inactive_account(), peek
        if not accepts_v10(request.headers.get("accept")):
            return problems.not_acceptable(instance), peek
        if endpoint not in (LIST_ENDPOINT, DETAIL_ENDPOINT):
            if endpoint.split(" ", 1)[1] in ("/retailer/orders", "/retailer/orders/{order-id}"):
                response = problems.problem(405, f"Method {request.method} is not supported.", instance)
                response.headers["Allow"] = "GET"
                return response, peek
            return problems.problem(404, f"No endpoint {request.path}.", instance), peek
        shared = credential_limit(self.settings.credential_rate_per_second)
        decision = self.limiter.check(client, endpoint, self.settings.rate_scale, credential=shared)
        if not decision.allowed:
            self.stats.record_throttled(client)
            return problems.too_many_requests(decision.reset, self.settings.retry_after), decision
        if order_id is None:
            return orders_api.list_orders(self.world, client, request.query, instance), decision
        return orders_api.get_order(self.world, client, order_id, instance), decision
