"""``/_emulator/*``: health, stats, ground truth, world changes, faults and runtime config (no auth)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from bol_emulator import business_actions, business_truth, control_code_flow
from bol_emulator.offer_actions import OFFER_ACTIONS
from bol_emulator.offer_payloads import truth_row
from bol_emulator.problems import PLAIN_JSON, Response, json_response
from bol_emulator.world import WORLD_ACTIONS

if TYPE_CHECKING:
    from bol_emulator.app import Emulator, Request

ITEMS_RE = re.compile(r"^/_emulator/accounts/([^/]+)/(order-items|offers)$")
BUSINESS_RE = re.compile(r"^/_emulator/accounts/([^/]+)/(" + "|".join(business_truth.TABLES) + ")$")


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
                    "offers": len(s.offers),
                }
                for s in app.world.accounts.values()
            ]
        )
    match = ITEMS_RE.match(request.path)
    if match and request.method == "GET":
        client_id = match.group(1)
        if client_id not in app.world.accounts:
            return _error(404, f"unknown client_id {client_id!r}")
        if match.group(2) == "offers":
            retailer_id = app.world.account(client_id).config.retailer_id
            return _ok(app.world.with_offers(client_id, lambda offers: [truth_row(retailer_id, o) for o in offers]))
        return _ok(app.world.ground_truth(client_id))
    business = BUSINESS_RE.match(request.path)
    if business and request.method == "GET":
        if business.group(1) not in app.world.accounts:
            return _error(404, f"unknown client_id {business.group(1)!r}")
        return _ok(app.world.business.read(business.group(1), business_truth.rows(business.group(2))))
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
        app.runtime.update(_body(request))
        return _ok(app.runtime.as_dict())
    if route == ("GET", "/_emulator/config"):
        return _ok(app.runtime.as_dict())
    return _error(404, f"no control call {request.method} {request.path}")


def _strings(body: dict[str, Any], key: str) -> list[str] | None:
    ids = body.get(key)
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise ValueError(f"{key} must be a list of strings")
    return ids


def _world(app: Emulator, body: dict[str, Any]) -> Response:
    client_id = body.get("client_id")
    if client_id not in app.world.accounts:
        return _error(404, f"unknown client_id {client_id!r}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError("count must be an integer")
    if body.get("action") in business_actions.BUSINESS_ACTIONS:
        return _ok(business_actions.apply(app.world, client_id, body))
    if body.get("action") not in WORLD_ACTIONS:
        actions = ", ".join(WORLD_ACTIONS + business_actions.BUSINESS_ACTIONS)
        raise ValueError(f"unknown action {body.get('action')!r}; expected one of {actions}")
    if body.get("action") in OFFER_ACTIONS:
        changes = body.get("changes", {})
        if not isinstance(changes, dict):
            raise ValueError("changes must be an object")
        offer_ids = _strings(body, "offer_ids")
        return _ok(app.world.apply_offers(client_id, body["action"], count, offer_ids, changes))
    ids = _strings(body, "order_item_ids")
    method = body.get("fulfilment_method")
    if method not in (None, "FBR", "FBB"):
        raise ValueError("fulfilment_method must be FBR or FBB")
    result = app.world.apply(client_id, str(body.get("action")), count, ids, method)
    return _ok(result)
