"""The ``bol_warehouse`` connection's extras, validated: a misspelt or mistyped key is an error naming it, never a
silent default (a misspelt ``sslmode`` would otherwise drop TLS verification to libpq's default)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from bolsync_provider.errors import BolConfigError

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "\0" not in value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _seconds(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 600


#: key -> (valid?, what a valid value is); libpq options go to the PostgreSQL connection as they are.
POSTGRES_OPTIONS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "sslmode": (_one_of(SSL_MODES), f"one of {', '.join(SSL_MODES)}"),
    "sslrootcert": (_text, "a file path"),
    "sslcert": (_text, "a file path"),
    "sslkey": (_text, "a file path"),
    "connect_timeout": (_seconds, "whole seconds from 1 to 600"),
    "application_name": (_text, "a name"),
    "options": (_text, "libpq options, e.g. -c statement_timeout=600000"),
    "target_session_attrs": (_one_of(SESSION_ATTRS), f"one of {', '.join(SESSION_ATTRS)}"),
}
#: Read by the personal store (``personal.settings``), validated there.
PERSONAL_OPTIONS = ("personal_data_schema", "personal_data_reader_role")


def warehouse_extras(conn_id: str, raw: str | None, backend: str) -> dict[str, Any]:
    """The connection's extras as a dict; BolConfigError for invalid JSON, an unknown key or a wrong value."""
    if raw in (None, ""):
        return {}
    try:
        extra = json.loads(str(raw))
    except json.JSONDecodeError as error:
        raise BolConfigError(f"connection '{conn_id}': its extra is not valid JSON ({error.msg}).") from None
    if not isinstance(extra, Mapping):
        raise BolConfigError(f"connection '{conn_id}': its extra must be a JSON object, got {type(extra).__name__}.")
    allowed = (*POSTGRES_OPTIONS, *PERSONAL_OPTIONS) if backend == "postgres" else PERSONAL_OPTIONS
    for key, value in extra.items():
        if key not in allowed:
            raise BolConfigError(
                f"connection '{conn_id}': unknown extra '{key}' for a {backend} warehouse; "
                f"the accepted keys are {', '.join(allowed)}."
            )
        if key in POSTGRES_OPTIONS and value not in (None, ""):
            valid, expected = POSTGRES_OPTIONS[key]
            if not valid(value):
                raise BolConfigError(f"connection '{conn_id}': extra '{key}' must be {expected}, got {value!r}.")
    return dict(extra)
