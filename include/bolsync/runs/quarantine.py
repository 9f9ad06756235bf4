"""One quarantine for every stream: a record the warehouse cannot hold is kept aside, and its window lands.

How a stream uses it (orders and offers do; a new stream needs only its own checks):

1. Its transform checks each record against what the warehouse columns hold (``runs.values``) and raises
   :class:`InvalidRecord` naming the record's key and the field.
2. Its load keeps those records out (:func:`partition` gives the valid records and the :class:`Rejected` ones),
   lands the rest and, in the same transaction, calls :meth:`Quarantine.settle`: the rejected records are held
   in ``bol.quarantine`` (raw JSON, reason, first and last seen, the run and its window) and held records that
   landed now are released.
3. Its task puts the count on the window's coverage row (``audit["quarantined"]``) and alerts newly held
   records once (:func:`alert_new`); the nightly coverage check reports what is still held until none is.

One row per stream, retailer and key: a rerun of a window holds the same records again, never twice. A record
without a usable key (none, or one with control characters) is keyed by a hash of its JSON (``unkeyed:...``):
no load can ever land it, so it stays held until someone releases it by hand (see :data:`RELEASE_BY_HAND`).

The raw record must hold no customer data: the stream removes it before (orders: ``without_personal_data``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pandas as pd

from bolsync.runs import alert_log, alerts
from bolsync.runs.values import CONTROL
from bolsync.warehouse.base import Warehouse
from bolsync_provider.errors import BolResponseError

log = logging.getLogger(__name__)

TABLE = "bol.quarantine"
#: The kind of its alerts in ``bol.alerts``.
QUARANTINE_ALERT = "quarantine"
#: The key of a record that names none usable: this prefix and a hash of its JSON.
UNKEYED = "unkeyed:"
#: Held records named in one alert or log line (the count is always given).
MAX_SHOWN = 20
_IN_CHUNK = 500
#: How an operator releases a record no load can land (one without a usable key), once it is dealt with.
RELEASE_BY_HAND = (
    "UPDATE bol.quarantine SET released_at = now(), released_by_run_id = 'by hand' "
    "WHERE stream = '<stream>' AND retailer_id = '<retailer>' AND record_key = '<key>'"
)

T = TypeVar("T")


class InvalidRecord(BolResponseError):
    """One record holds a value the warehouse cannot store: names the record (``key``) and the ``field``."""

    def __init__(self, message: str, *, key: Any, field: str) -> None:
        super().__init__(message)
        self.key = record_key(key)
        self.field = field


def record_key(value: Any) -> str | None:
    """The record key as stored (a string or a whole number as text), or None when it cannot be one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if text and not CONTROL.search(text) else None


def raw_json(raw: Any) -> str:
    """The record's JSON text: ASCII (any character survives any engine), NaN and Infinity kept as sent."""
    return json.dumps(raw, ensure_ascii=True, allow_nan=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Rejected:
    """A record a transform refused: its key, why (the typed error's message), the raw JSON and the field."""

    key: str
    reason: str
    raw_json: str
    field: str | None = None

    @classmethod
    def of_record(cls, key: Any, raw: Any, reason: str, field: str | None = None) -> Rejected:
        """A refused record from its key (anything; one that cannot be a key is replaced by a hash of the record),
        the raw record (JSON-able, without customer data) and why."""
        text = raw_json(raw)
        usable = record_key(key) or UNKEYED + hashlib.sha256(text.encode("ascii")).hexdigest()[:32]
        return cls(usable, reason, text, field)

    @classmethod
    def of(cls, error: InvalidRecord, raw: Any) -> Rejected:
        """The record a transform refused with ``error``."""
        return cls.of_record(error.key, raw, str(error), error.field)

    @property
    def keyed(self) -> bool:
        """Whether the record names its key (a later load can land and release it)."""
        return not self.key.startswith(UNKEYED)


def partition(
    records: Iterable[T], check: Callable[[T], None], raw: Callable[[T], Any] | None = None
) -> tuple[list[T], list[Rejected]]:
    """The records ``check`` accepts, and the ones it refuses (``raw(record)``, default the record, is kept)."""
    good: list[T] = []
    rejected: list[Rejected] = []
    for record in records:
        try:
            check(record)
        except InvalidRecord as error:
            rejected.append(Rejected.of(error, raw(record) if raw else record))
            continue
        good.append(record)
    return good, rejected


@dataclass(frozen=True)
class Settled:
    """What one load did to the quarantine: records it held, held records it released."""

    held: int = 0
    released: int = 0


@dataclass(frozen=True)
class Quarantine:
    """Where one load holds and releases records: its stream, account, run and window."""

    stream: str
    conn_id: str
    retailer_id: str
    dag_id: str
    run_id: str
    window_start: datetime | None = None
    window_end: datetime | None = None

    @classmethod
    def of_run(
        cls,
        stream: str,
        context: Any,
        *,
        conn_id: str,
        retailer_id: str,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> Quarantine:
        return cls(stream, conn_id, retailer_id, context["dag"].dag_id, context["run_id"], window_start, window_end)

    def open_keys(self, conn: Warehouse) -> set[str]:
        """Keys of the retailer's records of this stream held now."""
        rows = conn.query(
            f"SELECT record_key FROM {TABLE} WHERE stream = ? AND retailer_id = ? AND released_at IS NULL",
            [self.stream, self.retailer_id],
        )
        return {str(row[0]) for row in rows}

    def settle(
        self, conn: Warehouse, rejected: Sequence[Rejected], landed: Iterable[str], now: datetime | None = None
    ) -> Settled:
        """Hold ``rejected`` and release the held records among ``landed`` (keys this load landed whole; a key it
        also rejected stays held), in the caller's transaction; repeating it changes nothing more."""
        now = now or datetime.now(UTC)
        refused = {r.key for r in rejected}
        released = self.release(conn, (key for key in landed if key not in refused), now)
        settled = Settled(self.hold(conn, rejected, now), released)
        if settled.held or settled.released:
            log.warning(
                "%s of account %s (retailer %s): %d records held in %s, %d released (landed now).",
                self.stream,
                self.conn_id,
                self.retailer_id,
                settled.held,
                TABLE,
                settled.released,
            )
        return settled

    def hold(self, conn: Warehouse, rejected: Sequence[Rejected], now: datetime) -> int:
        """Upsert one row per rejected key; a released row is held again (a new episode: alerted again)."""
        rows = {r.key: r for r in rejected}
        if not rows:
            return 0
        frame = pd.DataFrame(
            {
                "stream": self.stream,
                "retailer_id": self.retailer_id,
                "record_key": list(rows),
                "conn_id": self.conn_id,
                "field": [r.field for r in rows.values()],
                "reason": [r.reason for r in rows.values()],
                "raw_json": [r.raw_json for r in rows.values()],
                "window_start": pd.Series([self.window_start] * len(rows), dtype="datetime64[us, UTC]"),
                "window_end": pd.Series([self.window_end] * len(rows), dtype="datetime64[us, UTC]"),
                "first_seen_at": pd.Series([now] * len(rows), dtype="datetime64[us, UTC]"),
                "last_seen_at": pd.Series([now] * len(rows), dtype="datetime64[us, UTC]"),
                "dag_id": self.dag_id,
                "run_id": self.run_id,
            }
        ).astype({c: "string" for c in ("stream", "retailer_id", "record_key", "conn_id", "field", "reason")})
        columns = ", ".join(frame.columns)
        still = f"{TABLE}.released_at IS NULL"
        with conn.staged(frame, TABLE) as incoming:
            conn.execute(
                f"""INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM {incoming}
                    ON CONFLICT (stream, retailer_id, record_key) DO UPDATE SET
                        conn_id = excluded.conn_id, field = excluded.field, reason = excluded.reason,
                        raw_json = excluded.raw_json, window_start = excluded.window_start,
                        window_end = excluded.window_end, last_seen_at = excluded.last_seen_at,
                        dag_id = excluded.dag_id, run_id = excluded.run_id,
                        first_seen_at = CASE WHEN {still} THEN {TABLE}.first_seen_at ELSE excluded.first_seen_at END,
                        alerted_at = CASE WHEN {still} THEN {TABLE}.alerted_at ELSE NULL END,
                        released_at = NULL, released_by_dag_id = NULL, released_by_run_id = NULL"""
            )
        return len(rows)

    def release(self, conn: Warehouse, landed: Iterable[str], now: datetime) -> int:
        """Mark the held records among ``landed`` released by this run; how many."""
        held = self.open_keys(conn)
        if not held:
            return 0
        released = sorted(held.intersection(landed))
        for start in range(0, len(released), _IN_CHUNK):
            chunk = released[start : start + _IN_CHUNK]
            conn.execute(
                f"UPDATE {TABLE} SET released_at = ?, released_by_dag_id = ?, released_by_run_id = ? "
                f"WHERE stream = ? AND retailer_id = ? AND released_at IS NULL "
                f"AND record_key IN ({', '.join('?' for _ in chunk)})",
                [now, self.dag_id, self.run_id, self.stream, self.retailer_id, *chunk],
            )
        return len(released)


@dataclass(frozen=True)
class HeldRecord:
    """One record held now, as the alert and the coverage check show it."""

    stream: str
    conn_id: str
    retailer_id: str
    key: str
    field: str | None
    reason: str
    window_start: datetime | None
    window_end: datetime | None
    first_seen_at: datetime
    dag_id: str
    run_id: str

    def describe(self) -> str:
        window = f"{_iso(self.window_start)} .. {_iso(self.window_end)}" if self.window_start else "no window"
        return f"{self.key} (window {window}, held since {_iso(self.first_seen_at)}, run {self.run_id}): {self.reason}"


def open_records(conn: Warehouse, stream: str, conn_id: str, *, unalerted: bool = False) -> list[HeldRecord]:
    """The account's records of ``stream`` held now (``unalerted``: only those no alert named yet), oldest first."""
    rows = conn.query(
        f"""SELECT stream, conn_id, retailer_id, record_key, field, reason, window_start, window_end,
                   first_seen_at, dag_id, run_id
            FROM {TABLE} WHERE stream = ? AND conn_id = ? AND released_at IS NULL
            {"AND alerted_at IS NULL" if unalerted else ""}
            ORDER BY first_seen_at, retailer_id, record_key""",
        [stream, conn_id],
    )
    return [
        HeldRecord(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            row[4],
            str(row[5]),
            _utc(row[6]),
            _utc(row[7]),
            _utc(row[8]) or datetime.now(UTC),
            str(row[9]),
            str(row[10]),
        )
        for row in rows
    ]


def quarantine_alert(records: Sequence[HeldRecord]) -> alerts.Alert:
    """One message naming newly held records of one account and stream, and what to do about them."""
    first = records[0]
    identity = "|".join(f"{r.retailer_id}/{r.key}/{_iso(r.first_seen_at)}" for r in records)
    shown = "\n".join(f"- {r.describe()}" for r in records[:MAX_SHOWN])
    more = f"\n- ... and {len(records) - MAX_SHOWN} more" if len(records) > MAX_SHOWN else ""
    retailers = ", ".join(sorted({r.retailer_id for r in records}))
    runs = sorted({(r.dag_id, r.run_id) for r in records})
    unkeyed = [r for r in records if r.key.startswith(UNKEYED)]
    lines = [
        f"Connection: {first.conn_id}\nRetailer: {retailers}\nStream: {first.stream}\n",
        f"{len(records)} record(s) bol sent hold values the warehouse cannot store. They are held in {TABLE} "
        "(raw JSON and reason); everything else of their windows landed, and each window is recorded as covered "
        "with the number it held (bol.sync_coverage.quarantined).\n",
        shown + more,
        "\nWhat to do:",
        f"- Look at them: SELECT record_key, field, reason, raw_json FROM {TABLE} WHERE stream = '{first.stream}' "
        f"AND conn_id = '{first.conn_id}' AND released_at IS NULL;",
        "- A held record lands by itself the next time a run lists it with valid values (an order's detail is "
        "fetched again then), and its row is marked released. To try again now, clear the account's sync_account "
        "tasks (extract and load) of the run: "
        + ", ".join(f"{dag} / {run}" for dag, run in runs[:5])
        + ("" if len(runs) <= 5 else ", ..."),
        "- If bol keeps sending such a value and it is right, bolsync has to learn to store it: report the reason.",
    ]
    if unkeyed:
        lines.append(
            f"- {len(unkeyed)} of them name no usable key, so no run can land them; once dealt with, release each by "
            f"hand: {RELEASE_BY_HAND}"
        )
    lines.append("The nightly coverage check lists held records until none is left.")
    return alerts.Alert(
        key=f"quarantine:{first.stream}:{first.conn_id}:{hashlib.sha256(identity.encode()).hexdigest()[:20]}",
        subject=f"[bolsync] {first.stream} of {first.conn_id}: {len(records)} record(s) held in quarantine",
        body="\n".join(lines),
    )


def alert_new(conn: Warehouse, stream: str, conn_id: str, context: Any) -> int:
    """Alert the account's held records of ``stream`` that no alert named yet (one message); how many it named.
    With none held any more, its quarantine alerts are cleared (``bol.alerts``).

    They are marked alerted once the message went out; if it could not be sent, the next load or the nightly
    coverage check tries again with the same message (its key suppresses a duplicate).
    """
    if not open_records(conn, stream, conn_id):
        alert_log.clear(
            conn,
            reason=f"quarantine of {stream} of {conn_id} empty: every held record landed",
            before=datetime.now(UTC),
            kinds=(QUARANTINE_ALERT,),
            conn_id=conn_id,
            stream=stream,
        )
        return 0
    fresh = open_records(conn, stream, conn_id, unalerted=True)
    if not fresh:
        return 0
    if alerts.send(quarantine_alert(fresh), context):
        now = datetime.now(UTC)
        for record in fresh:
            conn.execute(
                f"UPDATE {TABLE} SET alerted_at = ? WHERE stream = ? AND retailer_id = ? AND record_key = ? "
                "AND alerted_at IS NULL",
                [now, record.stream, record.retailer_id, record.key],
            )
    return len(fresh)


def held_note(rejected: Sequence[Rejected]) -> str | None:
    """The audit/log text for records a load held, or None."""
    if not rejected:
        return None
    shown = "; ".join(r.reason for r in rejected[:5]) + (" ..." if len(rejected) > 5 else "")
    return f"{len(rejected)} record(s) held in {TABLE} (the rest landed): {shown}"


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = pd.Timestamp(value).to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if moment else "-"
