"""Exchange an authorization code (bol's intermediary authorization) for a stored refresh token.

After the seller approves your app, bol redirects to your callback with ``?code=...``. Run, within
minutes (codes are short-lived and single-use)::

    python -m bolsync_provider.auth.authorize --conn-id bol_shop --code CODE --redirect-uri https://you/callback

The connection must have ``grant_type: authorization_code`` in its extra and your partner client id
and secret as login and password. The refresh token goes into a masked, encrypted Variable; from then
on the hook refreshes access tokens with it (storing each rotated refresh token under a lock).
"""

from __future__ import annotations

import argparse
import sys
import time

import requests

from bolsync_provider.auth.cache import RefreshTokenStore, VariableRefreshTokenStore
from bolsync_provider.auth.tokens import parse_token_response, refresh_token_in
from bolsync_provider.errors import BolConfigError, BolError, BolLoginError
from bolsync_provider.redaction import remember
from bolsync_provider.settings import AUTHORIZATION_CODE, BolConnectionSettings
from bolsync_provider.transport.exchange import exchange
from bolsync_provider.transport.status import describe_body, error_for_status, parse_problem


def exchange_code(
    settings: BolConnectionSettings,
    code: str,
    redirect_uri: str,
    store: RefreshTokenStore,
    session: requests.Session | None = None,
) -> str:
    """Trade ``code`` for tokens at bol's token endpoint; store the refresh token; return the retailer id."""
    if settings.grant_type != AUTHORIZATION_CODE:
        raise BolConfigError(
            f"connection '{settings.conn_id}' does not use the code flow: set its extra grant_type to "
            f"'{AUTHORIZATION_CODE}' first."
        )
    store.ensure_storable(settings.conn_id)  # before the single-use code is spent
    remember(code)
    http = session or requests.Session()
    label = f"bol login ({settings.login_url}) for connection '{settings.conn_id}'"
    requested_at = time.time()
    response = exchange(
        http,
        "POST",
        settings.login_url,
        what=label,
        max_bytes=settings.max_response_bytes,
        timeout=settings.timeout_seconds,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=(settings.client_id, settings.client_secret),
        headers={"Accept": "application/json"},
    )
    redirect = error_for_status(response.status_code, "", response.headers, request=label)
    if redirect is not None and response.status_code < 400:
        raise redirect
    if response.status_code != 200:
        raise BolLoginError(
            f"{label} did not accept the authorization code (HTTP {response.status_code}: "
            f"{describe_body(response.text, parse_problem(response.text))}). Codes are single-use and expire "
            "within minutes, and the redirect URI must be exactly the one used to authorize: ask the seller to "
            "authorize again.",
            status=response.status_code,
        )
    token = parse_token_response(
        response.text, requested_at=requested_at, client_id=settings.client_id, login_label=label
    )
    refresh_token = refresh_token_in(response.text)
    remember(token.value)
    remember(refresh_token)
    if not refresh_token:
        raise BolLoginError(f"{label} answered without a refresh_token; was scope offline_access granted?")
    store.store(settings.conn_id, refresh_token)
    return token.retailer_id or settings.retailer_id or "unknown"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bolsync_provider.auth.authorize", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--conn-id", required=True)
    parser.add_argument("--code", required=True)
    parser.add_argument("--redirect-uri", required=True)
    args = parser.parse_args(argv)
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    try:
        settings = BolRetailerHook(args.conn_id).settings
        retailer = exchange_code(settings, args.code, args.redirect_uri, VariableRefreshTokenStore())
    except BolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Connection '{args.conn_id}' is authorized for retailer {retailer}; its refresh token is stored.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
