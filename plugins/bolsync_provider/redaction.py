"""Secrets never leave the provider: every error message passes :func:`redact`, every secret :func:`remember`.

:func:`remember` registers a secret (client secret, access or refresh token) with this process's list and
with Airflow's secrets masker (task logs). :func:`redact` replaces every remembered secret and anything
shaped like a credential (a JWT, an ``Authorization`` value, ``access_token``/``refresh_token``/
``client_secret``/``password`` fields) with ``***``. :class:`bolsync_provider.errors.BolError` applies it to
every message it is built with, so no error text (task log, ``bol.sync_runs.error``, alert mail) can carry one.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

MASK = "***"
#: Shorter values are not secrets worth replacing everywhere (Airflow's masker skips them too).
MIN_SECRET_LENGTH = 6
#: A long-running process (the triggerer) sees a new token every few minutes: keep the newest ones.
MAX_REMEMBERED = 512

_PATTERNS = (
    # A JWT (or JWS): base64url JSON header "eyJ...", a payload and an optional signature.
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"),
    # The value of an Authorization header (a short word after "Bearer" is prose, not a credential).
    re.compile(r"(?i)(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{12,}"),
    # Credential fields in JSON, form bodies, query strings and reprs: key, separator, optional quote, value.
    re.compile(
        r"(?i)((?:access_token|refresh_token|id_token|client_secret|password|authorization)"
        r"[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\"'&,;}\s]+"
    ),
    # An authorization code in a form body or query string.
    re.compile(r"(\bcode=)[^&\s]+"),
)

_known: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()


def remember(secret: str | None) -> None:
    """Treat ``secret`` as secret from now on: in :func:`redact` and in Airflow's log masking."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        new = secret not in _known
        _known[secret] = None
        _known.move_to_end(secret)
        while len(_known) > MAX_REMEMBERED:
            _known.popitem(last=False)
    if not new:  # Airflow knows it already (in a task, telling it is a round trip to the supervisor)
        return
    stripped = secret.strip()
    if stripped != secret:
        remember(stripped)
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow is always installed with the provider
        return
    mask_secret(secret)


def redact(text: str) -> str:
    """``text`` with every remembered secret and every credential-shaped value replaced by ``***``."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text
