"""A scripted bol login service as a ``requests.Session``: rotating refresh tokens, 429s, drops, a hook per request.

For tests that need the token endpoint's answer to depend on what other processes did meanwhile (and a
controllable clock), which a real server cannot do deterministically. The HTTP side is tested against the
emulator (tests/emulator, tests/integration).
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from tests.support.jwt_tokens import make_jwt


@dataclass
class LoginRequest:
    """One token request as the fake received it (``at``: ``time.time()`` then, virtual or not)."""

    grant: dict[str, str]
    at: float
    status: int = 0


class FakeLogin(requests.Session):
    """Issues JWTs; with ``rotating``, every refresh answers a new refresh token and only the newest is valid.

    ``script`` answers the next requests in order before normal service: an int status (429 with
    ``retry_after``), ``"drop"`` (a dropped connection) or a callable run while that request is in flight
    (for example another process acting meanwhile), whose returned status (or None: normal service) is used.
    """

    def __init__(
        self,
        refresh_token: str = "rt-1",
        *,
        rotating: bool = True,
        retry_after: str = "120",
        script: Sequence[Any] = (),
    ) -> None:
        super().__init__()
        self.refresh_token = refresh_token
        self.rotating = rotating
        self.retry_after = retry_after
        self.lifetime = 600
        self.script: list[Any] = list(script)
        self.requests: list[LoginRequest] = []
        self.lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        grant = dict(kwargs.get("data") or {})
        seen = LoginRequest(grant, time.time())
        with self.lock:
            self.requests.append(seen)
            step = self.script.pop(0) if self.script else None
        if callable(step):
            step = step()
        if step == "drop":
            seen.status = 0
            raise requests.ConnectionError("connection dropped by the fake login service")
        if isinstance(step, int):
            seen.status = step
            headers = {"Retry-After": self.retry_after} if step == 429 else {}
            return _response(step, {"error": "scripted"}, headers)
        seen.status, body = self.answer(grant)
        return _response(seen.status, body, {})

    def answer(self, grant: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The service's normal answer to ``grant`` (rotating the refresh token when it is valid)."""
        with self.lock:
            body: dict[str, Any] = {
                "access_token": make_jwt(lifetime=self.lifetime, client_id="partner"),
                "token_type": "Bearer",
                "expires_in": self.lifetime - 1,
            }
            if grant.get("grant_type") != "refresh_token":
                return 200, body
            if grant.get("refresh_token") != self.refresh_token:
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
            if self.rotating:
                self.refresh_token = f"rt-{uuid.uuid4().hex[:8]}"
            body["refresh_token"] = self.refresh_token
            return 200, body

    def rotate_elsewhere(self) -> str:
        """Another process refreshed: the current refresh token is spent and a new one issued; returns it."""
        status, body = self.answer({"grant_type": "refresh_token", "refresh_token": self.refresh_token})
        assert status == 200
        return str(body["refresh_token"])

    def statuses(self) -> list[int]:
        return [seen.status for seen in self.requests]


def _response(status: int, body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json;charset=UTF-8", **headers})
    response.raw = io.BytesIO(json.dumps(body).encode())
    response.encoding = "utf-8"
    return response


class VirtualClock:
    """``time.time``/``time.monotonic`` that move only when someone sleeps (``time.sleep`` advances them)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)

    def install(self, monkeypatch: Any) -> VirtualClock:
        monkeypatch.setattr(time, "time", self.time)
        monkeypatch.setattr(time, "monotonic", self.time)
        monkeypatch.setattr(time, "sleep", self.sleep)
        return self
