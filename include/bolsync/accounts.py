"""Which ``bol_retailer`` connections a run syncs, decided at run time (never at DAG parse time)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bolsync_provider.exceptions import BolConfigError

ACCOUNTS_VARIABLE = "bolsync_accounts"
DEFAULT_ACCOUNTS = ["bol_retailer_default"]


def resolve_accounts(conf: Mapping[str, Any] | None, variable_value: str | None) -> list[str]:
    """The run's ``accounts`` param (trigger form or run conf), else Variable ``bolsync_accounts``, else the default."""
    source = "the run's 'accounts' param"
    value: Any = (conf or {}).get("accounts")
    if value is None and variable_value:
        source = f"Variable {ACCOUNTS_VARIABLE}"
        try:
            value = json.loads(variable_value)
        except ValueError:
            value = [part.strip() for part in variable_value.split(",") if part.strip()]
    if value is None:
        return list(DEFAULT_ACCOUNTS)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise BolConfigError(
            f"{source} must be a non-empty list of bol_retailer connection ids, e.g. "
            f'["bol_retailer_default", "bol_retailer_shop2"]; got {value!r}.'
        )
    return list(dict.fromkeys(v.strip() for v in value))
