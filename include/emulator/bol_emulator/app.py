"""The emulator's request pipeline, independent of the HTTP server: token endpoint, API and control."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from bol_emulator import control, problems, routes, token_grants, urls
from bol_emulator.code_flow import CodeFlow
from bol_emulator.config import EmulatorConfig
from bol_emulator.faults import FaultBook, FaultRule
from bol_emulator.offer_export import ExportBook
from bol_emulator.problems import PLAIN_JSON, V10_JSON, Response
from bol_emulator.ratelimit import Decision, RateLimiter, credential_limit
from bol_emulator.routes import Route
from bol_emulator.runtime import RuntimeSettings
from bol_emulator.stats import Stats
from bol_emulator.tokens import TokenCheck, TokenService
from bol_emulator.world import World

TOKEN_ENDPOINT = "POST /token"


@dataclass
class Request:
    """A parsed HTTP request (header names lower-cased; ``query`` has the first value of each query parameter,
    ``multi`` all of them; ``base_url`` is the URL the client reached the emulator by, set by ``handle``)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    multi: dict[str, list[str]] = field(default_factory=dict)
    base_url: str = ""

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, query = target.partition("?")
        multi = parse_qs(query, keep_blank_values=True)
        params = {k: v[0] for k, v in multi.items()}
        return cls(method, path, params, {k.lower(): v for k, v in headers.items()}, body, multi)


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

    def __init__(self, config: EmulatorConfig, bound_url: str = "") -> None:
        """``bound_url``: ``http://`` and the listening address (set by the server once it is bound)."""
        self.config = config
        self.public_url = urls.public_url(config.public_url) if config.public_url else None
        self.bound_url = bound_url
        self.runtime = RuntimeSettings.of(config)
        self.world = World(config)
        self.tokens = TokenService()
        self.code_flow = CodeFlow()
        self.exports = ExportBook()
        self.limiter = RateLimiter()
        self.limiter.overrides[TOKEN_ENDPOINT] = config.token_rate_limit
        self.faults = FaultBook()
        self.stats = Stats()
        self.secrets = {a.client_id: a.client_secret for a in config.accounts}

    def reset(self) -> None:
        """Back to the state right after start: the same world again, no faults, zero counters."""
        self.world = World(self.config, self.world.clock)
        self.runtime = RuntimeSettings.of(self.config)
        self.code_flow.reset()
        self.exports.reset()
        self.faults.clear()
        self.stats.reset()
        self.limiter.reset()

    @property
    def base_url(self) -> str:
        """The URL to print, and to answer requests without a usable ``Host`` header with."""
        return self.public_url or self.bound_url

    def base_url_for(self, request: Request) -> str:
        """The configured public URL, else ``http://<Host header>``, else the bound address."""
        if self.public_url:
            return self.public_url
        return urls.from_host(request.headers.get("host")) or self.bound_url

    def handle(self, request: Request) -> Response:
        """Route one request."""
        request.base_url = self.base_url_for(request)
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
        if rule.kind == "respond":
            return rule.canned()
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
        scale = self.runtime.rate_scale
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
            response = problems.too_many_requests(decision.reset, self.runtime.retry_after, PLAIN_JSON)
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

    def _api(self, request: Request) -> Response:
        arrival = time.time()
        route, param = routes.match(request.path)
        endpoint = f"{request.method} {route.template if route else request.path}"
        token = bearer_token(request.headers.get("authorization"))
        check = self.tokens.verify(token) if token else None
        client = check.client_id if check and check.client_id in self.secrets else None
        if client is not None:
            self.stats.record_api(client)
        response = self._api_response(request, endpoint, route, param, check, client)
        self.stats.record_request(endpoint, "dropped" if response.drop else str(response.status))
        if client is not None:
            self.stats.timeline.record(client, "api", arrival, 0 if response.drop else response.status)
        return response

    def _api_response(
        self,
        request: Request,
        endpoint: str,
        route: Route | None,
        param: str | None,
        check: TokenCheck | None,
        client: str | None,
    ) -> Response:
        scale = self.runtime.rate_scale
        decision = self.limiter.check(client or "-", endpoint, scale, consume=False)
        response = self._fault(self.faults.take(client, request.path), self.runtime.retry_after, decision)
        if response is None:
            response, decision = self._authorized(request, endpoint, route, param, check, client, decision)
            response = self.faults.business.cut(client, request.path, response)
        if not response.drop:
            for key, value in decision.headers().items():
                response.headers.setdefault(key, value)
        return response

    def _authorized(
        self,
        request: Request,
        endpoint: str,
        route: Route | None,
        param: str | None,
        check: TokenCheck | None,
        client: str | None,
        peek: Decision,
    ) -> tuple[Response, Decision]:
        instance = f"{request.base_url}{request.path}"
        if check is None or client is None or check.error == "invalid":
            return problems.unauthorized(instance), peek
        if check.error == "expired":
            return problems.expired_jwt(check.detail), peek
        if self.faults.is_inactive(client):
            return problems.inactive_account(), peek
        offered = route.media if route else (V10_JSON,)
        media = routes.negotiate(request.headers.get("accept"), offered)
        if media is None:
            return problems.not_acceptable(instance, offered[0]), peek
        if route is None:
            return problems.problem(404, f"No endpoint {request.path}.", instance), peek
        if request.method not in route.methods:
            response = problems.problem(405, f"Method {request.method} is not supported.", instance)
            response.headers["Allow"] = ", ".join(route.methods)
            return response, peek
        shared = credential_limit(self.runtime.credential_rate_per_second)
        decision = self.limiter.check(client, endpoint, self.runtime.rate_scale, credential=shared)
        if not decision.allowed:
            self.stats.record_throttled(client)
            return problems.too_many_requests(decision.reset, self.runtime.retry_after), decision
        return routes.dispatch(self, route, param, media, client, request), decision
