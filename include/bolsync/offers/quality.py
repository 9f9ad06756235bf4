"""Data-quality checks run after each offers load, in the style of ``runs.quality``.

- ``offers_unique_in_source``: the source has one row per offer id (a duplicate line is reported).
- ``offers_loaded``: every offer of the source is live in bol.offers afterwards (or was flagged deleted by a list
  taken after it).
- ``offers_key`` / ``offer_snapshots_key``: the declared keys (``transform``) are unique and not null.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pandas as pd

from bolsync.offers.spec import OFFER_SNAPSHOTS, OFFERS
from bolsync.runs.quality import CheckFailure, check_key, enforce


def check_offers_load(
    conn: Any, *, conn_id: str, retailer_id: str, offer_ids: list[str], listed_at: datetime | None = None
) -> None:
    """Every check of an offers load (``listed_at``: when the list was taken); raises ``QualityCheckFailed``
    naming each failed check."""
    failures = check_source_unique(offer_ids)
    failures += check_loaded(conn, retailer_id, offer_ids, listed_at)
    failures += check_key(conn, "offers_key", OFFERS, retailer_id)
    failures += check_key(conn, "offer_snapshots_key", OFFER_SNAPSHOTS, retailer_id)
    enforce(failures, conn_id, retailer_id)


def check_source_unique(offer_ids: list[str]) -> list[CheckFailure]:
    """``offers_unique_in_source``: one source row per offer id."""
    duplicates = sorted(f"{offer_id} (x{n})" for offer_id, n in Counter(offer_ids).items() if n > 1)
    if not duplicates:
        return []
    problem = f"the source had {len(offer_ids)} offer rows but {len(set(offer_ids))} distinct offer ids"
    return [CheckFailure("offers_unique_in_source", problem, duplicates, len(duplicates))]


def check_loaded(
    conn: Any, retailer_id: str, offer_ids: list[str], listed_at: datetime | None = None
) -> list[CheckFailure]:
    """``offers_loaded``: every offer id of the source is a live row of bol.offers, or one a list taken after
    ``listed_at`` flagged deleted."""
    wanted = pd.DataFrame({"offer_id": sorted(set(offer_ids))}, dtype="string")
    if wanted.empty:
        return []
    with conn.staged(wanted, OFFERS.name) as checked:
        missing = [
            str(row[0])
            for row in conn.execute(
                f"""SELECT c.offer_id FROM {checked} c WHERE NOT EXISTS (SELECT 1 FROM {OFFERS.name} o
                    WHERE o.retailer_id = ? AND o.offer_id = c.offer_id
                    AND (NOT o.deleted OR coalesce(o.deleted_at > ?, FALSE))) ORDER BY 1""",
                [retailer_id, listed_at],
            ).fetchall()
        ]
    if not missing:
        return []
    return [
        CheckFailure("offers_loaded", f"source offers not live in {OFFERS.name} after the load", missing, len(missing))
    ]
