"""``/_emulator/*``: health, stats, ground truth, world changes, faults and runtime config (no auth)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from bol_emulator import control_code_flow
from bol_emulator.problems import PLAIN_JSON, Response, json_response

if TYPE_CHECKING:
    from bol_emulator.app import Emulator, Request

ITEMS_RE = re.compile(r"^/_emulator/accounts/([^/]+)/order-items$")


def _ok(payload: Any, status: int = 200) -> Response:
    return json_response(status, payload, PLAIN_JSON)


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message}, PLAIN_JSON)


def _body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    payload = json.loads(request.body)
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload


def handle(app: Emulator, request: Request) -> Response:
    """Dispatch a control call; malformed input answers 400 ``{"error": ...}``."""
    try:
        return _dispatch(app, request)
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))


def _dispatch(app: Emulator, request: Request) -> Response:
    route = (request.method, request.path)
    if request.path.startswith(control_code_flow.PREFIX):
        return control_code_flow.handle(app, request.method, request.path, _body(request))
    if route == ("GET", "/_emulator/health"):
        return _ok({"status": "ok"})
    if route == ("GET", "/_emulator/stats"):
        return _ok(app.stats.snapshot())
    if route == ("GET", "/_emulator/stats/timeline"):
        if not request.query.get("client_id"):
            raise ValueError("client_id is required")
        return _ok(app.stats.timeline.of(request.query["client_id"]))
    if route == ("POST", "/_emulator/stats/reset"):
        app.stats.reset()
        return _ok(app.stats.snapshot())
    if route == ("POST", "/_emulator/reset"):
        app.reset()
        return _ok({"status": "ok"})
    if route == ("POST", "/_emulator/ratelimits/reset"):
        app.limiter.reset()
        return _ok({"status": "ok"})
    if route == ("GET", "/_emulator/accounts"):
        return _ok(
            [
                {
                    "client_id": s.config.client_id,
                    "client_secret": s.config.client_secret,
                    "retailer_id": s.config.retailer_id,
                    "order_items": len(s.items),
                }
                for s in app.world.accounts.values()
            ]
        )
    match = ITEMS_RE.match(request.path)
    if match and request.method == "GET":
        if match.group(1) not in app.world.accounts:
            return _error(404, f"unknown client_id {match.group(1)!r}")
        return _ok(app.world.ground_truth(match.group(1)))
    if route == ("POST", "/_emulator/world"):
        return _world(app, _body(request))
    if route == ("POST", "/_emulator/faults"):
        return _ok(app.faults.add(_body(request)), 201)
    if route == ("GET", "/_emulator/faults"):
        return _ok(app.faults.snapshot())
    if route == ("DELETE", "/_emulator/faults"):
        app.faults.clear()
        return _ok(app.faults.snapshot())
    if route == ("POST", "/_emulator/config"):
        _configure(app, _body(request))
        return _ok(app.settings.as_dict())
    if route == ("GET", "/_emulator/config"):
        return _ok(app.settings.as_dict())
    return _error(404, f"no control call {request.method} {request.path}")


def _world(app: Emulator, body: dict[str, Any]) -> Response:
    client_id = body.get("client_id")
    if client_id not in app.world.accounts:
        return _error(404, f"unknown client_id {client_id!r}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError("count must be an integer")
    ids = body.get("order_item_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise ValueError("order_item_ids must be a list of strings")
    method = body.get("fulfilment_method")
    if method not in (None, "FBR", "FBB"):
        raise ValueError("fulfilment_method must be FBR or FBB")
    result = app.world.apply(client_id, str(body.get("action")), count, ids, method)
    return _ok(result)


def _configure(app: Emulator, body: dict[str, Any]) -> None:
    unknown = set(body) - set(app.settings.as_dict())
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    if "rate_scale" in body:
        scale = body["rate_scale"]
        if isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0:
            raise ValueError("rate_scale must be a number > 0")
        app.settings.rate_scale = float(scale)
    if "retry_after" in body:
        if not isinstance(body["retry_after"], bool):
            raise ValueError("retry_after must be true or false")
        app.settings.retry_after = body["retry_after"]
    if "credential_rate_per_second" in body:
        rate = body["credential_rate_per_second"]
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0):
            raise ValueError("credential_rate_per_second must be a number > 0 or null")
        app.settings.credential_rate_per_second = None if rate is None else float(rate)
    for key in ("token_lifetime", "code_flow_token_lifetime"):
        if key in body:
            lifetime = body[key]
            if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1:
                raise ValueError(f"{key} must be an integer >= 1")
            setattr(app.settings, key, lifetime)
