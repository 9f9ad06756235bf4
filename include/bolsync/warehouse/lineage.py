"""Lineage of warehouse rows: the sync run that last inserted or really changed a row, and when its data was
pulled from the API.

Every data table (``bol.orders``, ``bol.order_items``, ``bol.offers``, ``bol.offer_snapshots``) carries
``synced_by_dag_id`` and ``synced_by_run_id`` (the Airflow run; joins ``bol.sync_runs`` on ``dag_id, run_id``)
and ``extracted_at`` (when that run's extract received the data). A merge writes them only with a real
change, so a rerun that changes nothing leaves a row as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

COLUMNS = ("synced_by_dag_id", "synced_by_run_id", "extracted_at")


@dataclass(frozen=True)
class Lineage:
    """Which run writes, and when its extract pulled the data (timezone-aware)."""

    dag_id: str
    run_id: str
    extracted_at: datetime

    def __post_init__(self) -> None:
        if self.extracted_at.tzinfo is None:
            raise ValueError(f"extracted_at must be timezone-aware, got {self.extracted_at!r}")

    @classmethod
    def of_run(cls, context: Mapping[str, Any], extracted_at: str | datetime | None) -> Lineage:
        """The lineage of the task's DAG run; ``extracted_at`` from the extract (ISO text), else now."""
        when = datetime.fromisoformat(extracted_at) if isinstance(extracted_at, str) else extracted_at
        return cls(context["dag"].dag_id, context["run_id"], when or datetime.now(UTC))

    def values(self) -> dict[str, Any]:
        """Column -> value, for statements with parameters."""
        return dict(zip(COLUMNS, (self.dag_id, self.run_id, self.extracted_at), strict=True))

    def sql(self) -> dict[str, str]:
        """Column -> SQL literal, for merges built as text."""
        return {
            "synced_by_dag_id": _text(self.dag_id),
            "synced_by_run_id": _text(self.run_id),
            "extracted_at": f"CAST({_text(self.extracted_at.astimezone(UTC).isoformat())} AS TIMESTAMPTZ)",
        }


def new_row_sql(inserted_only: Mapping[str, str] | None, lineage: Lineage | None) -> dict[str, str]:
    """What a new row gets besides its data: the ``inserted_only`` columns and ``lineage``'s marks (SQL)."""
    return {**(inserted_only or {}), **(lineage.sql() if lineage else {})}


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
