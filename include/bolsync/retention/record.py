"""``bol.retention_purges``: one row per try of a purge task (what, where, how much, whether it finished)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bolsync.warehouse.base import Warehouse

PERSONAL_STORE = "personal_store"
RAW_ARCHIVE = "raw_archive"
#: What the retention DAG purges, one task each.
TARGETS = (PERSONAL_STORE, RAW_ARCHIVE)


@dataclass
class PurgeCounts:
    """What one purge of ``target`` did; filled in while it runs (None: does not apply to the target)."""

    target: str
    location: str | None = None
    retailers: int | None = None
    retailers_kept: int | None = None
    contacts_purged: int | None = None
    rows_deleted: int | None = None
    folders_removed: int | None = None
    folders_failed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def record_purge(
    conn: Warehouse,
    context: Any,
    counts: PurgeCounts,
    *,
    status: str,
    started: datetime,
    finished: datetime,
    error: str | None,
) -> None:
    """Write (or, for the same task try, replace) the purge's row."""
    ti = context["ti"]
    row = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": ti.try_number,
        **counts.as_dict(),
        "status": status,
        "started_at": started,
        "finished_at": finished,
        "error": error,
    }
    keys = ("dag_id", "run_id", "task_id", "try_number")
    updates = ", ".join(f"{column} = excluded.{column}" for column in row if column not in keys)
    conn.execute(
        f"INSERT INTO bol.retention_purges ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        list(row.values()),
    )


@dataclass(frozen=True)
class PurgeHistory:
    """The last successful purge of a target, and the error of its last failed try since (if any)."""

    target: str
    last_success: datetime | None
    last_error: str | None


def purge_history(conn: Warehouse, target: str) -> PurgeHistory:
    last = conn.scalar(
        "SELECT max(finished_at) FROM bol.retention_purges WHERE target = ? AND status = 'success'", [target]
    )
    since, params = ("", [target]) if last is None else (" AND finished_at > ?", [target, last])
    error = conn.scalar(
        f"SELECT error FROM bol.retention_purges WHERE target = ? AND status = 'failed'{since} "
        "ORDER BY finished_at DESC LIMIT 1",
        params,
    )
    return PurgeHistory(target, last, error)
