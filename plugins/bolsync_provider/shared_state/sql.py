"""Shared state in SQL: a SQLite file (one host, the default) or PostgreSQL (several hosts).

Each operation is one short transaction. SQLite serialises them with ``BEGIN IMMEDIATE`` (its own file
lock); PostgreSQL with a transaction-level advisory lock per credential and uses the database clock, so
hosts with drifting clocks still agree on the windows.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bolsync_provider.shared_state.planning import KeyState, Reservation, WindowLimit, plan_reservation

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bolsync_rate_slots (key TEXT NOT NULL, slot DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS bolsync_rate_slots_key_slot ON bolsync_rate_slots (key, slot)",
    "CREATE TABLE IF NOT EXISTS bolsync_pauses (key TEXT PRIMARY KEY, until_ts DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bolsync_leases "
    "(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bolsync_claims (key TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)",
)


class SqlSharedState:
    """:class:`SharedState` over a DB-API connection; subclasses say how to connect and lock."""

    description = "SQL"
    placeholder = "?"
    greatest = "max"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: Any = None

    # -- dialect hooks -------------------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, cursor: Any, lock_key: str) -> None:
        raise NotImplementedError

    def _now(self, cursor: Any) -> float:
        return time.time()

    # -- plumbing ------------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def _transaction(self, lock_key: str, work: Callable[[Any, float], Any]) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
                self._create_schema()
            cursor = self._conn.cursor()
            try:
                self._begin(cursor, lock_key)
                result = work(cursor, self._now(cursor))
                self._conn.commit()
                return result
            except BaseException:
                self._conn.rollback()
                if self._is_broken():
                    self._conn = None
                raise
            finally:
                cursor.close()

    def _is_broken(self) -> bool:
        return bool(getattr(self._conn, "closed", False))

    def _create_schema(self) -> None:
        cursor = self._conn.cursor()
        for statement in SCHEMA:
            cursor.execute(statement)
        self._conn.commit()
        cursor.close()

    # -- SharedState ---------------------------------------------------------------------------------
    def reserve(self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str) -> Reservation:
        lock_key = limits[0].key if limits else queued_pause

        def work(cursor: Any, now: float) -> Reservation:
            states = {limit.key: self._key_state(cursor, limit, now) for limit in limits}
            plan = plan_reservation(
                now, limits, states, self._pause_until(cursor, queued_pause), self._pause_until(cursor, probed_pause)
            )
            if plan.reservation.committed:
                cursor.executemany(
                    self._sql("INSERT INTO bolsync_rate_slots (key, slot) VALUES (?, ?)"),
                    [(limit.key, plan.slot) for limit in limits],
                )
            return plan.reservation

        return self._transaction(lock_key, work)  # type: ignore[no-any-return]

    def _key_state(self, cursor: Any, limit: WindowLimit, now: float) -> KeyState:
        cursor.execute(
            self._sql("DELETE FROM bolsync_rate_slots WHERE key = ? AND slot < ?"), (limit.key, now - limit.period)
        )
        cursor.execute(self._sql("SELECT max(slot) FROM bolsync_rate_slots WHERE key = ?"), (limit.key,))
        latest = cursor.fetchone()[0]
        cursor.execute(
            self._sql("SELECT slot FROM bolsync_rate_slots WHERE key = ? ORDER BY slot DESC LIMIT 1 OFFSET ?"),
            (limit.key, limit.limit - 1),
        )
        row = cursor.fetchone()
        return KeyState(latest=latest, nth_latest=row[0] if row else None)

    def _pause_until(self, cursor: Any, key: str) -> float:
        cursor.execute(self._sql("SELECT until_ts FROM bolsync_pauses WHERE key = ?"), (key,))
        row = cursor.fetchone()
        return float(row[0]) if row else 0.0

    def pause(self, key: str, seconds: float) -> None:
        def work(cursor: Any, now: float) -> None:
            cursor.execute(
                self._sql(
                    "INSERT INTO bolsync_pauses (key, until_ts) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                    f"SET until_ts = {self.greatest}(bolsync_pauses.until_ts, excluded.until_ts)"
                ),
                (key, now + seconds),
            )

        self._transaction(key, work)

    def paused_for(self, keys: Sequence[str]) -> float:
        def work(cursor: Any, now: float) -> float:
            return max([0.0, *(self._pause_until(cursor, key) - now for key in keys)])

        return self._transaction(keys[0] if keys else "", work)  # type: ignore[no-any-return]

    def try_lease(self, name: str, holder: str, ttl: float) -> bool:
        def work(cursor: Any, now: float) -> bool:
            cursor.execute(
                self._sql("DELETE FROM bolsync_leases WHERE name = ? AND (expires_at < ? OR holder = ?)"),
                (name, now, holder),
            )
            cursor.execute(
                self._sql(
                    "INSERT INTO bolsync_leases (name, holder, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (name, holder, now + ttl),
            )
            return bool(cursor.rowcount == 1)

        return self._transaction(name, work)  # type: ignore[no-any-return]

    def release(self, name: str, holder: str) -> None:
        def work(cursor: Any, now: float) -> None:
            cursor.execute(self._sql("DELETE FROM bolsync_leases WHERE name = ? AND holder = ?"), (name, holder))

        self._transaction(name, work)

    def claim_once(self, key: str, ttl: float) -> bool:
        def work(cursor: Any, now: float) -> bool:
            cursor.execute(self._sql("DELETE FROM bolsync_claims WHERE expires_at < ?"), (now,))
            cursor.execute(
                self._sql("INSERT INTO bolsync_claims (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
                (key, now + ttl),
            )
            return bool(cursor.rowcount == 1)

        return self._transaction(key, work)  # type: ignore[no-any-return]


class SqliteSharedState(SqlSharedState):
    """One SQLite file shared by the processes of one host (the default backend)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.description = f"SQLite file {path} (this host)"

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return _SqliteAutocommit(conn)

    def _begin(self, cursor: Any, lock_key: str) -> None:
        cursor.execute("BEGIN IMMEDIATE")


class _SqliteAutocommit:
    """sqlite3 in autocommit mode with explicit BEGIN IMMEDIATE; commit/rollback as SQL."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def commit(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


class PostgresSharedState(SqlSharedState):
    """PostgreSQL tables shared by every host; the database clock decides the windows."""

    placeholder = "%s"
    greatest = "greatest"

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self.description = "PostgreSQL " + _redact(dsn)

    def _connect(self) -> Any:
        import psycopg2

        return psycopg2.connect(self._dsn, connect_timeout=10, application_name="bolsync-shared-state")

    def _begin(self, cursor: Any, lock_key: str) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock_key.split("|")[0],))

    def _now(self, cursor: Any) -> float:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())::double precision")
        return float(cursor.fetchone()[0])

    def _create_schema(self) -> None:
        cursor = self._conn.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('bolsync_shared_state_schema'))")
        for statement in SCHEMA:
            cursor.execute(statement)
        self._conn.commit()
        cursor.close()


def _redact(url: str) -> str:
    """``url`` without a password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
