"""``/_emulator/authorization-codes``: stands in for the retailer approving (or revoking) a partner app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from bol_emulator.code_flow import CODE_LIFETIME, REFRESH_LIFETIME
from bol_emulator.problems import PLAIN_JSON, Response, json_response

if TYPE_CHECKING:
    from bol_emulator.app import Emulator

PREFIX = "/_emulator/authorization-codes"


def _seconds(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{key} must be a number > 0")
    return float(value)


def handle(app: Emulator, method: str, path: str, body: dict[str, Any]) -> Response:
    """Create a code (POST), list authorizations (GET), revoke one (DELETE .../{code})."""
    if path == PREFIX and method == "POST":
        client_id = body.get("client_id")
        if client_id not in app.world.accounts:
            return json_response(404, {"error": f"unknown client_id {client_id!r}"}, PLAIN_JSON)
        redirect_uri = body.get("redirect_uri")
        if not isinstance(redirect_uri, str) or not redirect_uri:
            raise ValueError("redirect_uri must be a non-empty string")
        code = app.code_flow.create_code(
            client_id,
            redirect_uri,
            str(body.get("rotation", "rotating")),
            _seconds(body, "expires_in", CODE_LIFETIME),
            _seconds(body, "refresh_token_lifetime", REFRESH_LIFETIME),
        )
        return json_response(201, {"code": code}, PLAIN_JSON)
    if path == PREFIX and method == "GET":
        return json_response(200, app.code_flow.snapshot(), PLAIN_JSON)
    if path.startswith(PREFIX + "/") and method == "DELETE":
        code = unquote(path[len(PREFIX) + 1 :])
        if not app.code_flow.revoke(code):
            return json_response(404, {"error": f"unknown authorization code {code!r}"}, PLAIN_JSON)
        return json_response(200, {"code": code, "state": "revoked"}, PLAIN_JSON)
    return json_response(404, {"error": f"no control call {method} {path}"}, PLAIN_JSON)
