"""Versioned schema migrations: ``sql/NNN_name.sql`` files applied once, recorded in bol.schema_migrations."""

from __future__ import annotations

from importlib import resources
from typing import Any

SCHEMA = "bol"


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bundled migration, in order."""
    folder = resources.files("bolsync") / "sql"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: Any) -> list[str]:
    """Apply pending migrations inside the caller's connection; return the names applied."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ DEFAULT now())"
    )
    applied = {row[0] for row in conn.execute(f"SELECT version FROM {SCHEMA}.schema_migrations").fetchall()}
    done = []
    for version, name, sql in migration_files():
        if version in applied:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(sql)
            conn.execute(f"INSERT INTO {SCHEMA}.schema_migrations (version, name) VALUES (?, ?)", [version, name])
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        done.append(name)
    return done
