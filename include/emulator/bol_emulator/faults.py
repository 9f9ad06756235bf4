"""Injected faults: one-shot rules consumed in order, plus per-client states (revoked, inactive)."""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from bol_emulator.business_faults import BUSINESS_FAULT_KINDS, BusinessFaults
from bol_emulator.offer_faults import OFFER_FAULT_KINDS, OfferFaults
from bol_emulator.order_faults import ORDER_FAULT_KINDS, OrderFaults
from bol_emulator.page_faults import PAGE_FAULT_KINDS, PageFaults
from bol_emulator.problems import Response

RULE_KINDS = ("server_error", "drop_connection", "slow", "burst_429", "respond")
STATE_KINDS = ("token_lifetime", "revoke", "inactive")
SERVER_ERROR_STATUSES = (500, 502, 503, 504)
#: Headers the server writes itself; a canned answer may not set them.
FRAMING_HEADERS = ("content-length", "transfer-encoding", "connection")


@dataclass
class FaultRule:
    """A fault applied to the next ``count`` matching requests."""

    kind: str
    count: int = 1
    client_id: str | None = None
    path_prefix: str | None = None
    status: int = 500
    seconds: float = 1.0
    retry_after: bool = True
    #: ``respond``: the canned answer's headers and body (base64, so any bytes survive JSON).
    headers: dict[str, str] = field(default_factory=dict)
    body_base64: str = ""

    def canned(self) -> Response:
        """The answer of a ``respond`` rule: exactly its status, headers and body."""
        return Response(self.status, base64.b64decode(self.body_base64), dict(self.headers))

    def matches(self, client_id: str | None, path: str) -> bool:
        if self.client_id is not None and self.client_id != client_id:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


def _int(raw: dict[str, Any], key: str, default: int, low: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}")
    return value


def _seconds(raw: dict[str, Any], default: float) -> float:
    value = raw.get("seconds", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("seconds must be a number >= 0")
    return float(value)


def _canned(raw: dict[str, Any], rule: FaultRule) -> None:
    """Validate a ``respond`` rule: ``status`` 100-599, ``headers`` {str: str}, ``body`` text or ``body_base64``."""
    rule.status = _int(raw, "status", 200, 100)
    if rule.status > 599:
        raise ValueError("status must be an integer from 100 to 599")
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("headers must be an object of strings")
    framing = [name for name in headers if name.lower() in FRAMING_HEADERS]
    if framing:
        raise ValueError(f"headers may not set {framing}: the server writes the framing itself")
    for text in (text for item in headers.items() for text in item):
        if "\r" in text or "\n" in text or not text.isascii():
            raise ValueError(f"header {text!r}: names and values must be ASCII without line breaks")
    if "body" in raw and "body_base64" in raw:
        raise ValueError("give body or body_base64, not both")
    if "body_base64" in raw:
        encoded = raw["body_base64"]
        if not isinstance(encoded, str):
            raise ValueError("body_base64 must be a string")
        try:
            base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("body_base64 is not valid base64") from None
        rule.body_base64 = encoded
    else:
        text = raw.get("body", "")
        if not isinstance(text, str):
            raise ValueError("body must be a string (UTF-8 text; use body_base64 for other bytes)")
        rule.body_base64 = base64.b64encode(text.encode("utf-8")).decode("ascii")
    rule.headers = dict(headers)


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


class FaultBook:
    """The active faults; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.revoked: set[str] = set()
        self.inactive: set[str] = set()
        self.token_lifetimes: dict[str | None, int] = {}
        self.offers = OfferFaults()
        self.business = BusinessFaults()
        self.pages = PageFaults()
        self.orders = OrderFaults()

    def add(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Validate and add one fault given as JSON; ValueError if malformed."""
        kind = raw.get("kind")
        client_id = _optional_str(raw, "client_id")
        path_prefix = _optional_str(raw, "path_prefix")
        if kind in OFFER_FAULT_KINDS:
            return self.offers.add(raw, client_id)
        if kind in BUSINESS_FAULT_KINDS:
            return self.business.add(raw, client_id, path_prefix)
        if kind in PAGE_FAULT_KINDS:
            return self.pages.add(raw, client_id)
        if kind in ORDER_FAULT_KINDS:
            return self.orders.add(raw, client_id)
        if kind in RULE_KINDS:
            rule = FaultRule(kind=kind, count=_int(raw, "count", 1, 1), client_id=client_id, path_prefix=path_prefix)
            if kind == "server_error":
                rule.status = _int(raw, "status", 500, 500)
                if rule.status not in SERVER_ERROR_STATUSES:
                    raise ValueError(f"status must be one of {SERVER_ERROR_STATUSES}")
            elif kind == "slow":
                rule.seconds = _seconds(raw, 2.0)
            elif kind == "burst_429":
                rule.seconds = _seconds(raw, 1.0)
                rule.retry_after = bool(raw.get("retry_after", True))
            elif kind == "respond":
                _canned(raw, rule)
            with self.lock:
                self.rules.append(rule)
            return asdict(rule)
        if kind == "token_lifetime":
            lifetime = _int(raw, "seconds", 300, 1)
            with self.lock:
                self.token_lifetimes[client_id] = lifetime
            return {"kind": kind, "seconds": lifetime, "client_id": client_id}
        if kind in ("revoke", "inactive"):
            if not client_id:
                raise ValueError(f"{kind} needs a client_id")
            with self.lock:
                (self.revoked if kind == "revoke" else self.inactive).add(client_id)
            return {"kind": kind, "client_id": client_id}
        kinds = ", ".join(
            RULE_KINDS + STATE_KINDS + OFFER_FAULT_KINDS + BUSINESS_FAULT_KINDS + PAGE_FAULT_KINDS + ORDER_FAULT_KINDS
        )
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {kinds}")

    def take(self, client_id: str | None, path: str) -> FaultRule | None:
        """Consume the first rule matching this request, if any."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(client_id, path):
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                    return FaultRule(**{**asdict(rule), "count": 1})
        return None

    def is_revoked(self, client_id: str) -> bool:
        with self.lock:
            return client_id in self.revoked

    def is_inactive(self, client_id: str) -> bool:
        with self.lock:
            return client_id in self.inactive

    def token_lifetime(self, client_id: str, default: int) -> int:
        """Lifetime of new tokens: the per-client fault, else the global one, else ``default``."""
        with self.lock:
            return self.token_lifetimes.get(client_id, self.token_lifetimes.get(None, default))

    def clear(self) -> None:
        """Remove every fault and restore credentials and accounts."""
        with self.lock:
            self.rules.clear()
            self.revoked.clear()
            self.inactive.clear()
            self.token_lifetimes.clear()
        self.offers.clear()
        self.business.clear()
        self.pages.clear()
        self.orders.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "rules": [asdict(rule) for rule in self.rules],
                "revoked": sorted(self.revoked),
                "inactive": sorted(self.inactive),
                "token_lifetime": {str(k) if k else "*": v for k, v in self.token_lifetimes.items()},
                **self.offers.snapshot(),
                **self.business.snapshot(),
                **self.pages.snapshot(),
                **self.orders.snapshot(),
            }
