"""What an offers extract hands its load, through XCom (``OffersExtracted``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bolsync.offers import extract as ex
from bolsync.offers.listing import OfferList
from bolsync.runs.payload import Payload
from bolsync.runs.windows import SyncWindow


@dataclass(frozen=True)
class OffersExtracted(Payload):
    """What an offers extract hands its load (``skipped``: why a past run changes nothing)."""

    conn_id: str
    window_start: str
    window_end: str
    snapshot_date: str
    retailer_id: str | None = None
    source: str | None = None
    full: bool = False
    staging_file: str | None = None
    source_rows: int = 0
    skipped: str | None = None
    api: dict[str, float] = field(default_factory=dict)
    #: When the extract pulled the offers from the API (ISO 8601): the rows' lineage.
    extracted_at: str | None = None
    #: When bol's list was taken (ISO 8601; the export's request, the v11 list's first page): see
    #: ``offers.listing``.
    listed_at: str | None = None

    @classmethod
    def for_window(cls, conn_id: str, window: SyncWindow) -> OffersExtracted:
        return cls(
            conn_id, window.start.isoformat(), window.end.isoformat(), ex.snapshot_date(window.start).isoformat()
        )

    @property
    def window(self) -> SyncWindow:
        return SyncWindow(datetime.fromisoformat(self.window_start), datetime.fromisoformat(self.window_end))

    @property
    def seen_at(self) -> datetime:
        """The run's data interval end, not the wall clock: rerunning a day writes the same rows."""
        return datetime.fromisoformat(self.window_end)

    @property
    def listing(self) -> OfferList:
        """The staged list, placed in time (a payload without ``listed_at``: its extract time)."""
        listed_at = self.listed_at or self.extracted_at
        return OfferList(
            source=str(self.source),
            full=self.full,
            seen_at=self.seen_at,
            listed_at=datetime.fromisoformat(listed_at) if listed_at else self.seen_at,
            snapshot_date=datetime.fromisoformat(self.snapshot_date).date(),
        )

    def audit(self, **more: Any) -> dict[str, Any]:
        window = self.window
        return {"conn_id": self.conn_id, "retailer_id": self.retailer_id, "window_start": window.start,
                "window_end": window.end, **more}  # fmt: skip
