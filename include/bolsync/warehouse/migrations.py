"""Versioned schema migrations shared by DuckDB and PostgreSQL, recorded in ``bol.schema_migrations``.

``sql/NNN_name.sql`` files run once each, in version order, each in its own transaction. They are written
in the SQL both engines accept (VARCHAR, INTEGER, BOOLEAN, DATE, TIMESTAMPTZ, DECIMAL(p,s), DOUBLE
PRECISION, JSON). Where that is impossible, ``NNN_name.<backend>.sql`` (``duckdb`` or ``postgres``)
replaces ``NNN_name.sql`` on that engine; the version stays the same. Changing the schema (adding a
column, ...) is a new file, never an edit of an applied one. On PostgreSQL an advisory lock makes
concurrent first runs apply each migration once; on DuckDB the file lock does.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

SCHEMA = "bol"
BACKENDS = ("duckdb", "postgres")


def migration_files(backend: str = "duckdb") -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bundled migration, in order, with ``backend``'s variants applied."""
    folder = resources.files("bolsync.warehouse") / "sql"
    common: dict[int, tuple[str, str]] = {}
    variants: dict[int, tuple[str, str]] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        stem = entry.name[: -len(".sql")]
        version = int(entry.name.split("_", 1)[0])
        engine = stem.rsplit(".", 1)[1] if "." in stem else None
        if engine is None:
            common[version] = (entry.name, entry.read_text(encoding="utf-8"))
        elif engine == backend:
            variants[version] = (f"{stem.rsplit('.', 1)[0]}.sql", entry.read_text(encoding="utf-8"))
        elif engine not in BACKENDS:
            raise ValueError(f"migration {entry.name}: unknown engine '{engine}' (use {' or '.join(BACKENDS)})")
    merged = {**common, **variants}
    return sorted((version, name, sql) for version, (name, sql) in merged.items())


def migrate(conn: Any) -> list[str]:
    """Apply pending migrations on the caller's connection (a ``Warehouse``, or a raw DuckDB connection);
    return the names applied."""
    from bolsync.warehouse.base import Warehouse
    from bolsync.warehouse.duckdb_warehouse import DuckDBWarehouse

    warehouse = conn if isinstance(conn, Warehouse) else DuckDBWarehouse(conn)
    with warehouse.migration_lock():
        warehouse.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        warehouse.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ DEFAULT now())"
        )
        applied = {row[0] for row in warehouse.query(f"SELECT version FROM {SCHEMA}.schema_migrations")}
        done = []
        for version, name, sql in migration_files(warehouse.backend):
            if version in applied:
                continue
            with warehouse.transaction():
                warehouse.execute(sql)
                warehouse.execute(
                    f"INSERT INTO {SCHEMA}.schema_migrations (version, name) VALUES (?, ?)", [version, name]
                )
            done.append(name)
        return done
