"""The evidence a full FBB inventory list gives before it marks EANs no longer listed (the rule: ``runs.evidence``;
the counting: ``runs.full_list``).

``bol.inventory`` placed relative to the list of one Dutch day: an EAN was live that day if bol's latest list
names it, or a list of a later day was the first not to (``unlisted_on``); known if a list of that day or before
named it first; seen after it if a list of a later day named it.
"""

from __future__ import annotations

from datetime import date

from bolsync.inventory.spec import INVENTORY, STREAM
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence
from bolsync.runs.full_list import StoredRecords

#: How messages name the list.
WHAT = "bol's FBB inventory list"


def day_sql(day: date) -> str:
    """A Dutch day as a SQL literal (built from a date, never from text)."""
    return f"CAST('{day.isoformat()}' AS DATE)"


def stored_inventory(day: date) -> StoredRecords:
    """``bol.inventory`` placed relative to the list of ``day``."""
    on = day_sql(day)
    return StoredRecords(
        INVENTORY.name,
        "ean",
        live=f"(o.listed OR coalesce(o.unlisted_on > {on}, FALSE))",
        known=f"o.first_seen_on <= {on}",
        seen_after=f"o.last_seen_on > {on}",
    )


def deletion_check(
    *, listed: int, evidence: FullListEvidence, threshold: DeletionThreshold | None, confirmed: bool
) -> DeletionCheck:
    return DeletionCheck(
        stream=STREAM,
        what=WHAT,
        records="EANs",
        table=INVENTORY.name,
        listed=listed,
        evidence=evidence,
        threshold=threshold or DeletionThreshold(),
        confirmed=confirmed,
    )
