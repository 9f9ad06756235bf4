"""``POST /token`` after client authentication: the three grant types and their OAuth2 errors."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from bol_emulator import problems
from bol_emulator.code_flow import GrantError
from bol_emulator.problems import PLAIN_JSON, Response

if TYPE_CHECKING:
    from bol_emulator.app import Emulator, Request

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")


def form_of(request: Request) -> dict[str, str]:
    """The form body's fields; ``grant_type`` may also come from the query string (never codes or tokens)."""
    form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
    if "grant_type" not in form and "grant_type" in request.query:
        form["grant_type"] = request.query["grant_type"]
    return form


def grant_label(form: dict[str, str]) -> str:
    """The grant type as counted in the stats (``-`` when missing, ``other`` when unknown)."""
    grant = form.get("grant_type")
    if grant is None:
        return "-"
    return grant if grant in GRANT_TYPES else "other"


def oauth_error(status: int, error: str, description: str) -> Response:
    return problems.json_response(status, {"error": error, "error_description": description}, PLAIN_JSON)


def issue(app: Emulator, client_id: str, form: dict[str, str]) -> Response:
    """The token response for an authenticated client."""
    grant = form.get("grant_type")
    if grant is None:
        return oauth_error(400, "invalid_request", "Missing grant_type")
    if grant not in GRANT_TYPES:
        return oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    account = app.world.account(client_id).config
    if grant == "client_credentials":
        lifetime = app.faults.token_lifetime(client_id, app.runtime.token_lifetime)
        body = {
            "access_token": app.tokens.issue(account, lifetime),
            "token_type": "Bearer",
            "expires_in": lifetime - 1,
            "scope": "RETAILER",
        }
        return problems.json_response(200, body, PLAIN_JSON)
    try:
        if grant == "authorization_code":
            missing = [key for key in ("code", "redirect_uri") if not form.get(key)]
            if missing:
                return oauth_error(400, "invalid_request", f"Missing {' and '.join(missing)}")
            refresh = app.code_flow.exchange(client_id, form["code"], form["redirect_uri"])
        else:
            if not form.get("refresh_token"):
                return oauth_error(400, "invalid_request", "Missing refresh_token")
            _, refresh = app.code_flow.refresh(client_id, form["refresh_token"])
    except GrantError as exc:
        return oauth_error(400, "invalid_grant", str(exc))
    lifetime = app.faults.token_lifetime(client_id, app.runtime.code_flow_token_lifetime)
    body = {
        "access_token": app.tokens.issue(account, lifetime),
        "token_type": "Bearer",
        "expires_in": lifetime - 1,
        "scope": "offline_access",
        "refresh_token": refresh,
    }
    return problems.json_response(200, body, PLAIN_JSON)
