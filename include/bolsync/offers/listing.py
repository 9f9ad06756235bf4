"""One list of offers as a source gave it, and what it can tell about the stored offers (SQL over ``bol.offers``).

Two times place a list. ``seen_at`` is the run's data interval end: an offer's ``first_seen_at`` and
``last_seen_at`` are such times, so a rerun of a day writes the same rows. ``listed_at`` is when bol's list was
taken (the wall clock, as early as it can be: the export's request, a v11 list's first page); bol's
``mutation_date_time`` and an offer's ``deleted_at`` are compared with it. A list can be loaded after newer
data (a replay of an old day, a late export): these predicates keep it from undoing what came later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

SOURCES = {"export": "bol's offer export", "v11": "bol's v11 offer list"}


@dataclass(frozen=True)
class OfferList:
    """A list's source (``export`` or ``v11``), whether it is full (names every offer), its two times and the
    day whose snapshot it gives."""

    source: str
    full: bool
    seen_at: datetime
    listed_at: datetime
    snapshot_date: date

    def __post_init__(self) -> None:
        if self.seen_at.tzinfo is None or self.listed_at.tzinfo is None:
            raise ValueError(f"an offer list's times must be timezone-aware: {self.seen_at!r}, {self.listed_at!r}")

    @property
    def name(self) -> str:
        """How messages name the list."""
        if self.source == "v11":
            return "bol's v11 full sweep" if self.full else "bol's v11 offer list"
        return SOURCES.get(self.source, self.source)

    @property
    def seen_sql(self) -> str:
        return _instant(self.seen_at)

    @property
    def listed_sql(self) -> str:
        return _instant(self.listed_at)

    @property
    def day_sql(self) -> str:
        return f"CAST('{self.snapshot_date.isoformat()}' AS DATE)"

    def live(self, o: str = "o") -> str:
        """Offer ``o`` was live when the list was taken: not deleted, or flagged deleted by a later list."""
        return f"(NOT {o}.deleted OR coalesce({o}.deleted_at > {self.listed_sql}, FALSE))"

    def known(self, o: str = "o") -> str:
        """bolsync knew offer ``o`` by the list's interval (seen first by then)."""
        return f"{o}.first_seen_at <= {self.seen_sql}"

    def seen_after(self, o: str = "o") -> str:
        """Offer ``o`` existed after the list was taken: a later interval saw it, or bol changed it since."""
        return f"({o}.last_seen_at > {self.seen_sql} OR coalesce({o}.mutation_date_time > {self.listed_sql}, FALSE))"

    def current(self, o: str = "o") -> str:
        """The stored state of ``o`` is what it was when the list was taken: no newer version (an offer without
        one: not seen by a later interval)."""
        return f"coalesce({o}.mutation_date_time <= {self.listed_sql}, {o}.last_seen_at <= {self.seen_sql})"


def _instant(moment: datetime) -> str:
    """A timezone-aware instant as a SQL literal (built from a datetime, never from text)."""
    return f"CAST('{moment.astimezone(UTC).isoformat()}' AS TIMESTAMPTZ)"
