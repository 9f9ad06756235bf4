"""Shared state in SQL: a SQLite file (one host, the default) or PostgreSQL (several hosts).

Each operation is one short transaction. SQLite serialises them with ``BEGIN IMMEDIATE`` (its own file
lock); PostgreSQL with a transaction-level advisory lock per credential and uses the database clock, so
hosts with drifting clocks still agree on the windows. No wait for a lock (this process's, the file's or
the advisory one) lasts longer than ``lock_timeout`` seconds: then :class:`BolSharedStateError` names the
state and what to check, and the task's retries take over.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bolsync_provider.budget.shared_state.base import ClockOffset
from bolsync_provider.budget.shared_state.filesystems import network_filesystem
from bolsync_provider.budget.shared_state.planning import (
    KeyState,
    Reservation,
    WindowLimit,
    horizon,
    plan_commit,
    plan_reservation,
)
from bolsync_provider.errors import BolConfigError, BolSharedStateError

#: Entries outside their window are deleted every this many reservation steps (reads ignore them anyway).
TRIM_EVERY = 50
#: The longest wait for a lock. Transactions take milliseconds: a lock held this long means a hung holder.
LOCK_TIMEOUT_SECONDS = 60.0

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bolsync_rate_entries "
    "(key TEXT NOT NULL, ticket TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, sent SMALLINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS bolsync_rate_entries_key_at ON bolsync_rate_entries (key, at)",
    "CREATE INDEX IF NOT EXISTS bolsync_rate_entries_key_sent_at ON bolsync_rate_entries (key, sent, at)",
    "CREATE INDEX IF NOT EXISTS bolsync_rate_entries_ticket ON bolsync_rate_entries (ticket)",
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

    def __init__(self, lock_timeout: float = LOCK_TIMEOUT_SECONDS, clock: Callable[[], float] | None = None) -> None:
        #: The windows' clock (epoch seconds); None: the backend's own (this host's, or the database's).
        self.clock = clock
        self._lock = threading.Lock()
        self._conn: Any = None
        self._calls = 0
        self.lock_timeout = lock_timeout

    # -- dialect hooks -------------------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, cursor: Any, lock_key: str) -> None:
        raise NotImplementedError

    def _now(self, cursor: Any) -> float:
        return self.clock() if self.clock else time.time()

    def _is_lock_timeout(self, error: BaseException) -> bool:
        """Whether ``error`` is the database giving up waiting for a lock."""
        return False

    # -- plumbing ------------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def _transaction(self, lock_key: str, work: Callable[[Any, float], Any]) -> Any:
        if not self._lock.acquire(timeout=self.lock_timeout):
            raise self._locked_error("another thread of this process holds it")
        try:
            return self._run(lock_key, work)
        except Exception as error:
            if self._is_lock_timeout(error):
                raise self._locked_error("another process holds its lock") from None
            raise
        finally:
            self._lock.release()

    def _run(self, lock_key: str, work: Callable[[Any, float], Any]) -> Any:
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

    def _locked_error(self, why: str) -> BolSharedStateError:
        return BolSharedStateError(
            f"The bolsync shared state ({self.description}) stayed locked for more than {self.lock_timeout:g} s "
            f"({why}); its transactions take milliseconds, so a holder is hung: look for a stuck task or "
            "process using it. The rate budget and token lock cannot be used until it is free; the task is "
            "retried later."
        )

    def _is_broken(self) -> bool:
        return bool(getattr(self._conn, "closed", False))

    def _create_schema(self) -> None:
        cursor = self._conn.cursor()
        for statement in SCHEMA:
            cursor.execute(statement)
        self._conn.commit()
        cursor.close()

    # -- SharedState ---------------------------------------------------------------------------------
    def reserve(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        def work(cursor: Any, now: float) -> Reservation:
            states, pauses = self._read_states(cursor, limits, [queued_pause, probed_pause], now, sent_only=False)
            reservation = plan_reservation(now, limits, states, pauses[0], pauses[1], max_delay)
            return self._apply(cursor, limits, ticket, reservation, now)

        return self._reservation_step(limits, queued_pause, work)

    def commit(
        self, limits: Sequence[WindowLimit], queued_pause: str, probed_pause: str, ticket: str, max_delay: float
    ) -> Reservation:
        def work(cursor: Any, now: float) -> Reservation:
            states, pauses = self._read_states(cursor, limits, [queued_pause, probed_pause], now, sent_only=True)
            booked_at = None
            if limits:
                cursor.execute(
                    self._sql("SELECT at FROM bolsync_rate_entries WHERE ticket = ? AND key = ?"),
                    (ticket, limits[0].key),
                )
                row = cursor.fetchone()
                booked_at = float(row[0]) if row else None
            reservation = plan_commit(now, limits, states, pauses[0], pauses[1], booked_at, max_delay)
            return self._apply(cursor, limits, ticket, reservation, now)

        return self._reservation_step(limits, queued_pause, work)

    def _reservation_step(
        self, limits: Sequence[WindowLimit], queued_pause: str, work: Callable[[Any, float], Reservation]
    ) -> Reservation:
        self._calls += 1
        lock_key = limits[0].key if limits else queued_pause
        return self._transaction(lock_key, work)  # type: ignore[no-any-return]

    def _apply(
        self, cursor: Any, limits: Sequence[WindowLimit], ticket: str, reservation: Reservation, now: float
    ) -> Reservation:
        """Record the ticket's booking or send under every limit, or drop its booking; trim now and then."""
        cursor.execute(self._sql("DELETE FROM bolsync_rate_entries WHERE ticket = ?"), (ticket,))
        if (reservation.booked or reservation.sent) and limits:
            values = ", ".join(["(?, ?, ?, ?)"] * len(limits))
            sent = 1 if reservation.sent else 0
            params = [value for limit in limits for value in (limit.key, ticket, reservation.slot, sent)]
            insert = f"INSERT INTO bolsync_rate_entries (key, ticket, at, sent) VALUES {values}"
            cursor.execute(self._sql(insert), params)
        if self._calls % TRIM_EVERY == 1:
            newest = now + horizon(limits)
            for limit in limits:
                cursor.execute(
                    self._sql("DELETE FROM bolsync_rate_entries WHERE key = ? AND (at < ? OR at > ?)"),
                    (limit.key, now - limit.period, newest),
                )
        return reservation

    def _read_states(
        self, cursor: Any, limits: Sequence[WindowLimit], pause_keys: Sequence[str], now: float, sent_only: bool
    ) -> tuple[dict[str, KeyState], list[float]]:
        """Every key's latest and n-th latest entry in its window (sends only, or bookings too), and the
        pauses: one round trip."""
        parts, params = [], []
        newest = now + horizon(limits)
        which = "sent = 1 AND " if sent_only else ""
        for limit in limits:
            where = f"WHERE key = ? AND {which}at >= ? AND at <= ?"
            parts.append(
                f"SELECT (SELECT max(at) FROM bolsync_rate_entries {where}), "
                f"(SELECT at FROM bolsync_rate_entries {where} ORDER BY at DESC LIMIT 1 OFFSET ?)"
            )
            since = now - limit.period
            params += [limit.key, since, newest, limit.key, since, newest, limit.limit - 1]
        for key in pause_keys:
            parts.append("SELECT (SELECT until_ts FROM bolsync_pauses WHERE key = ?), NULL")
            params.append(key)
        cursor.execute(self._sql(" UNION ALL ".join(parts)), params)
        rows = cursor.fetchall()
        states = {
            limit.key: KeyState(latest=row[0], nth_latest=row[1]) for limit, row in zip(limits, rows, strict=False)
        }
        pauses = [float(row[0]) if row[0] is not None else 0.0 for row in rows[len(limits) :]]
        return states, pauses

    def local_time_of(self, backend_time: float) -> float:
        return backend_time  # SQLite: this host's clock

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

    def renew_lease(self, name: str, holder: str, ttl: float) -> bool:
        def work(cursor: Any, now: float) -> bool:
            cursor.execute(
                self._sql("UPDATE bolsync_leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?"),
                (now + ttl, name, holder, now),
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

    def release_claim(self, key: str) -> None:
        def work(cursor: Any, now: float) -> None:
            cursor.execute(self._sql("DELETE FROM bolsync_claims WHERE key = ?"), (key,))

        self._transaction(key, work)


class SqliteSharedState(SqlSharedState):
    """One SQLite file shared by the processes of one host (the default backend)."""

    def __init__(
        self, path: Path, lock_timeout: float = LOCK_TIMEOUT_SECONDS, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(lock_timeout, clock)
        self.path = path
        self.description = f"SQLite file {path} (this host)"

    def _connect(self) -> Any:
        refuse_network_filesystem(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False)
        try:
            _use_wal(conn, self.lock_timeout)
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return _SqliteAutocommit(conn)

    def _begin(self, cursor: Any, lock_key: str) -> None:
        cursor.execute("BEGIN IMMEDIATE")

    def _is_lock_timeout(self, error: BaseException) -> bool:
        text = str(error).lower()
        return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def refuse_network_filesystem(path: Path) -> None:
    """BolConfigError when ``path`` lies on a network filesystem, where SQLite's WAL cannot work."""
    kind = network_filesystem(path)
    if kind is not None:
        raise BolConfigError(
            f"The bolsync shared state {path} lies on a {kind} network filesystem. Its SQLite file runs in WAL "
            "mode, which needs memory shared by the processes of one host and locks network filesystems do not "
            "give: it would corrupt or deadlock. Set [bolsync] shared_state_url (AIRFLOW__BOLSYNC__SHARED_STATE_URL) "
            "to a SQLite file on a local disk (sqlite:////var/lib/bolsync/shared_state.sqlite) or, with several "
            "hosts, to Redis or PostgreSQL (redis://host:6379/1, postgresql://user@host/db)."
        )


def _use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the file to WAL once (it is persistent); several processes opening it at once may race."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:  # "database is locked" while another process switches it
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


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

    def __init__(
        self, dsn: str, lock_timeout: float = LOCK_TIMEOUT_SECONDS, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(lock_timeout, clock)
        self._dsn = dsn
        self.description = "PostgreSQL " + _redact(dsn)
        self._offset = ClockOffset(self._database_time)

    def local_time_of(self, backend_time: float) -> float:
        return backend_time if self.clock else self._offset.local_time_of(backend_time)

    def _database_time(self) -> float:
        def work(cursor: Any, now: float) -> float:
            return now

        return self._transaction("bolsync_clock", work)  # type: ignore[no-any-return]

    def _connect(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(self._dsn, connect_timeout=10, application_name="bolsync-shared-state")
        with conn.cursor() as cursor:  # rate slots need no durability: no WAL flush wait per reservation
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(self.lock_timeout * 1000)}ms",))
        conn.commit()
        return conn

    def _is_lock_timeout(self, error: BaseException) -> bool:
        return getattr(error, "pgcode", None) == "55P03"  # lock_not_available

    def _begin(self, cursor: Any, lock_key: str) -> None:
        if lock_key == "bolsync_clock":  # a clock reading takes no lock
            cursor.execute("SELECT 0, extract(epoch FROM clock_timestamp())::double precision")
        else:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s)), extract(epoch FROM clock_timestamp())::double precision",
                (lock_key.split("|")[0],),
            )
        self._locked_at = float(cursor.fetchone()[1])

    def _now(self, cursor: Any) -> float:
        return self.clock() if self.clock else self._locked_at

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
