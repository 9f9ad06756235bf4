"""An account's token as the page shows it: whether one is cached, until when it is valid and when it was
fetched. The token itself never leaves this module."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bolsync_provider.auth.cache import variable_key
from bolsync_provider.auth.tokens import AccessToken
from bolsync_provider.config import get_variable


def token_state(conn_id: str, now: datetime, read: Callable[[str], str | None] = get_variable) -> dict[str, Any]:
    """``state``: ``none`` (no token cached yet), ``unreadable``, ``valid``, ``expired`` or ``refused`` (bol
    refused it before its end: the next run fetches a new one); ``valid_until``, ``fetched_at``,
    ``retailer_id`` when known."""
    text = read(variable_key(conn_id))
    if not text:
        return {"state": "none"}
    token = AccessToken.from_json(text)
    if token is None:
        return {"state": "unreadable"}
    fetched = _iso(token.issued_at)
    if token.expires_at <= 0:
        return {"state": "refused", "fetched_at": fetched, "retailer_id": token.retailer_id}
    state = "valid" if token.expires_at > now.timestamp() else "expired"
    return {
        "state": state,
        "valid_until": _iso(token.expires_at),
        "fetched_at": fetched,
        "retailer_id": token.retailer_id,
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
