"""The personal schema of a PostgreSQL warehouse: created once, readable only by the configured role.

Concurrent first runs would race on ``CREATE SCHEMA IF NOT EXISTS`` (a unique violation in the catalog), so
the set-up runs in one transaction under an advisory lock. Each time, the schema's and the tables' grants
are made exactly the configured ones: PUBLIC and every other role (also via default privileges, or granted
by hand) lose access, and the reader role gets ``USAGE`` on the schema and ``SELECT`` on the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bolsync.personal.settings import READER_EXTRA, PersonalStoreSettings
from bolsync.warehouse.connection import WAREHOUSE_CONN_ID, Warehouse
from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)

SETUP_LOCK = 0x626F6C706969  # "bolpii"
_GRANTEES = """SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type
FROM {catalog} o CROSS JOIN LATERAL aclexplode(o.{acl}) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE {match} AND a.grantee <> o.{owner}"""
#: (object kind, how to find it in the catalog, the reader's privilege)
_OBJECTS = {
    "SCHEMA": (
        _GRANTEES.format(catalog="pg_namespace", acl="nspacl", owner="nspowner", match="o.nspname = ?"),
        "USAGE",
    ),
    "TABLE": (
        _GRANTEES.format(catalog="pg_class", acl="relacl", owner="relowner", match="o.oid = ?::regclass"),
        "SELECT",
    ),
}


def prepare_postgres_store(db: Warehouse, settings: PersonalStoreSettings, ddl: Mapping[str, str]) -> None:
    """Create the schema and the tables (``ddl``: table name -> its DDL) if missing and limit their grants to
    the reader role."""
    import psycopg

    try:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(?)", [SETUP_LOCK])
            role = settings.reader_role
            if role is not None and not db.scalar("SELECT count(*) FROM pg_roles WHERE rolname = ?", [role]):
                raise BolConfigError(
                    f"connection '{WAREHOUSE_CONN_ID}': extra '{READER_EXTRA}' names role '{role}', which does not "
                    f"exist on the server; create it (CREATE ROLE {quote(role)} NOLOGIN) or remove the extra."
                )
            new = db.scalar("SELECT to_regclass(?) IS NULL", [settings.table])
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {settings.schema}")
            if new:
                db.execute(f"REVOKE ALL ON SCHEMA {settings.schema} FROM PUBLIC")
            for table, create in ddl.items():
                if db.scalar("SELECT to_regclass(?) IS NULL", [table]):
                    db.execute(create)
                    db.execute(f"REVOKE ALL ON TABLE {table} FROM PUBLIC")
            if new:
                log.info("Created the personal store %s (readable by: %s).", settings.table, role or "its owner")
            _limit_grants(db, "SCHEMA", settings.schema, role)
            for table in ddl:
                _limit_grants(db, "TABLE", table, role)
    except psycopg.errors.InsufficientPrivilege as error:
        raise BolConfigError(
            f"The warehouse user may not set up the personal store {settings.table}: {error}. It needs CREATE on "
            f"the database, or a schema {settings.schema} it owns (and ownership of the table, to grant on it)."
        ) from error


def _limit_grants(db: Warehouse, kind: str, name: str, role: str | None) -> None:
    """Revoke every grant on ``name`` but the reader's one privilege; grant that if missing."""
    sql, privilege = _OBJECTS[kind]
    wanted = {role: {privilege}} if role else {}
    granted: dict[str, set[str]] = {}
    for grantee, granted_privilege in db.query(sql, [name]):
        granted.setdefault(grantee, set()).add(granted_privilege)
    for grantee, privileges in granted.items():
        if privileges != wanted.get(grantee):
            db.execute(f"REVOKE ALL ON {kind} {name} FROM {quote(grantee)} CASCADE")
            if grantee not in wanted:
                log.warning(
                    "Revoked %s on %s %s from %s: only %s may read it.",
                    privileges,
                    kind,
                    name,
                    grantee,
                    role or "the owner",
                )
    for grantee, privileges in wanted.items():
        if granted.get(grantee) != privileges:
            db.execute(f"GRANT {privilege} ON {kind} {name} TO {quote(grantee)}")
    left = {grantee for grantee, _ in db.query(sql, [name])} - set(wanted)
    if left:
        raise BolConfigError(
            f"Could not revoke access to {kind.lower()} {name} from {sorted(left)} (granted by another role?); "
            "revoke it as the object's owner or a superuser."
        )


def quote(role: str) -> str:
    """A role as an SQL identifier (``PUBLIC`` stays the keyword)."""
    return role if role == "PUBLIC" else '"' + role.replace('"', '""') + '"'
