"""Where the personal store lives in a PostgreSQL warehouse, from the ``bol_warehouse`` connection's extras.

``{"personal_data_schema": "bol_personal", "personal_data_reader_role": "bol_pii_reader"}``: the schema of
``order_customers``, ``return_customers`` and ``retailer_accounts`` (default ``bol_personal``) and the one role
granted to read it (default: none, only the owner). Both are ignored for a DuckDB warehouse, whose personal store
is a file of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bolsync_provider.errors import BolConfigError

DEFAULT_SCHEMA = "bol_personal"
TABLE_NAME = "order_customers"
RETURNS_TABLE_NAME = "return_customers"
#: Which connections stored each retailer's rows (see ``store.PersonalStore.record_account``).
ACCOUNTS_TABLE_NAME = "retailer_accounts"
SCHEMA_EXTRA = "personal_data_schema"
READER_EXTRA = "personal_data_reader_role"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_NOT_PERSONAL = frozenset({"bol", "public", "information_schema"})


@dataclass(frozen=True)
class PersonalStoreSettings:
    """The personal schema and the role allowed to read it (PostgreSQL only)."""

    schema: str = DEFAULT_SCHEMA
    reader_role: str | None = None

    @property
    def table(self) -> str:
        return f"{self.schema}.{TABLE_NAME}"

    @property
    def returns_table(self) -> str:
        return f"{self.schema}.{RETURNS_TABLE_NAME}"

    @property
    def accounts_table(self) -> str:
        return f"{self.schema}.{ACCOUNTS_TABLE_NAME}"

    @classmethod
    def from_extra(cls, conn_id: str, extra: Mapping[str, Any]) -> PersonalStoreSettings:
        where = f"connection '{conn_id}': extra"
        schema = extra.get(SCHEMA_EXTRA) or DEFAULT_SCHEMA
        if (
            not isinstance(schema, str)
            or not _IDENTIFIER.fullmatch(schema)
            or schema in _NOT_PERSONAL
            or schema.startswith("pg_")
        ):
            raise BolConfigError(
                f"{where} '{SCHEMA_EXTRA}' must be a lowercase identifier (a-z, 0-9, _; at most 63) of a schema "
                f"only personal data uses (not bol, public, information_schema or pg_*), got {schema!r}."
            )
        role = extra.get(READER_EXTRA) or None
        if role is not None and (
            not isinstance(role, str) or len(role) > 63 or "\0" in role or role.lower() == "public"
        ):
            raise BolConfigError(
                f"{where} '{READER_EXTRA}' must name one role (at most 63 characters, not PUBLIC), got {role!r}."
            )
        return cls(schema=schema, reader_role=role)


def store_settings(conn_id: str | None = None) -> PersonalStoreSettings:
    """The settings of the warehouse connection (defaults without it; reads the connection, so tasks only)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from bolsync.warehouse.connection import WAREHOUSE_CONN_ID

    conn_id = conn_id or WAREHOUSE_CONN_ID
    try:
        extra = BaseHook.get_connection(conn_id).extra_dejson or {}
    except AirflowNotFoundException:
        return PersonalStoreSettings()
    return PersonalStoreSettings.from_extra(conn_id, extra)
