"""Per-account personal-data policy, from the ``bol_retailer`` connection's extra ``personal_data``.

``{"personal_data": {"store": true, "retention_days": 90}}`` opts an account in. Without it (the
default) no personal data is stored anywhere: not in the warehouse, not in the personal store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)

#: Dutch fiscal retention (art. 52 AWR): invoice data is kept seven years.
TAX_RETENTION_DAYS = 7 * 366
DEFAULT_RETENTION_DAYS = 90


@dataclass(frozen=True)
class PersonalDataPolicy:
    """Whether to store an account's customer data, and how long before contact details are purged."""

    store: bool = False
    retention_days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def from_extra(cls, conn_id: str, extra: Mapping[str, Any]) -> PersonalDataPolicy:
        raw = extra.get("personal_data")
        if raw in (None, "", False):
            return cls()
        where = f"connection '{conn_id}': extra 'personal_data'"
        if not isinstance(raw, Mapping):
            raise BolConfigError(f'{where} must be an object like {{"store": true, "retention_days": 90}}.')
        unknown = set(raw) - {"store", "retention_days"}
        if unknown:
            raise BolConfigError(f"{where} has unknown keys {sorted(unknown)}; use store and retention_days.")
        store = raw.get("store", False)
        if not isinstance(store, bool):
            raise BolConfigError(f"{where}.store must be true or false, got {store!r}.")
        days = raw.get("retention_days", DEFAULT_RETENTION_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TAX_RETENTION_DAYS:
            raise BolConfigError(
                f"{where}.retention_days must be a whole number of days from 1 to {TAX_RETENTION_DAYS}, got {days!r}."
            )
        return cls(store=store, retention_days=days)


def policy_for(conn_id: str) -> PersonalDataPolicy:
    """The policy of a connection (reads the connection; call inside tasks only)."""
    from airflow.sdk import BaseHook

    return PersonalDataPolicy.from_extra(conn_id, BaseHook.get_connection(conn_id).extra_dejson)


def purge_policy(conn_id: str) -> PersonalDataPolicy | None:
    """The policy a purge applies to a connection's data: a removed connection opts nothing in any more; None
    when the connection's policy cannot be read (its data is then kept, and a warning logged)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return policy_for(conn_id)
    except AirflowNotFoundException:
        return PersonalDataPolicy()
    except BolConfigError as error:
        log.warning("Personal-data policy of connection '%s' unreadable: %s", conn_id, error)
        return None
