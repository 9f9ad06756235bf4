"""What a full list says about the records stored for its account: the SQL that counts the evidence weighed by
the rule in ``runs.evidence``, for every stream whose table marks the records a full list no longer names.

A stream describes its stored records once (:class:`StoredRecords`): the table, the key column and three
predicates over a stored record ``o`` placing it relative to the list: live when the list was taken, known by
then, and seen after it (a later list named it, or bol changed it since). Every statement takes the retailer id
as its first parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredRecords:
    """A table of records a full list names (alias ``o``), placed relative to one list by SQL predicates."""

    table: str
    key: str
    live: str
    known: str
    seen_after: str

    def live_where(self) -> str:
        """The retailer's records (first parameter: retailer id) live and known when the list was taken."""
        return f"o.retailer_id = ? AND {self.live} AND {self.known}"

    def named(self, incoming: str, held: str | None = None) -> str:
        return named(self.key, incoming, held)

    def missing_where(self, incoming: str, held: str | None = None) -> str:
        """The records the list would mark gone: live then, not named by ``incoming`` (or ``held``), not seen
        since."""
        return f"{self.live_where()} AND NOT {self.seen_after} AND NOT {self.named(incoming, held)}"

    def count_live(self, conn: Any, retailer_id: str) -> int:
        """The records live when the list was taken (count them before the list is loaded)."""
        return _count(conn, f"SELECT count(*) FROM {self.table} AS o WHERE {self.live_where()}", retailer_id)

    def count_named(self, conn: Any, retailer_id: str, incoming: str, held: str | None = None) -> int:
        """How many of those ``incoming`` (or ``held``) names (before it is loaded)."""
        return _count(
            conn,
            f"SELECT count(*) FROM {self.table} AS o WHERE {self.live_where()} AND {self.named(incoming, held)}",
            retailer_id,
        )

    def count_missing(self, conn: Any, retailer_id: str, incoming: str, held: str | None = None) -> int:
        return _count(
            conn, f"SELECT count(*) FROM {self.table} AS o WHERE {self.missing_where(incoming, held)}", retailer_id
        )


def named(key: str, incoming: str, held: str | None = None) -> str:
    """Record ``o`` is in the staged list ``incoming``, or among the staged keys ``held`` (listed, but held in the
    quarantine), matched on column ``key``."""
    listed = f"EXISTS (SELECT 1 FROM {incoming} AS i WHERE i.{key} = o.{key})"
    if held is None:
        return listed
    return f"({listed} OR EXISTS (SELECT 1 FROM {held} AS h WHERE h.{key} = o.{key}))"


def _count(conn: Any, sql: str, retailer_id: str) -> int:
    rows = conn.execute(sql, [retailer_id]).fetchall()
    return int(rows[0][0]) if rows else 0
