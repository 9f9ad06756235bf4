"""The generic extract and load steps every stream's sync task runs (see ``streams.spec``): the shared path around
a stream's own extract and load functions.

Extract: the run's window, one audited try staging into a folder of its own (``runs.staging``), every response
archived (``archive``), then the stream's extract. Load: the staged folder read under its lock, one warehouse
connection, the run's lineage and quarantine, the stream's load, held records alerted once, the tables' assets
emitted, the window recorded as covered by ``audited`` unless the extract or the load said it is incomplete,
the staging cleaned up, and the stream's own alerts sent once the load committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bolsync.archive.tasks import archive_responses
from bolsync.personal.tasks import personal_secret_for
from bolsync.runs import alerts, assets
from bolsync.runs.audit import audited
from bolsync.runs.quarantine import Quarantine, alert_new
from bolsync.runs.staging import (
    clean_up_after_load,
    new_attempt,
    reading_attempt,
    sibling_attempts,
    staging_dir,
    staging_root,
)
from bolsync.runs.sync_hook import SyncHook
from bolsync.runs.windows import SyncWindow, run_window
from bolsync.streams.spec import Extracted, ExtractFn, ExtractJob, LoadJob, StreamSpec, functions_of
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync.warehouse.lineage import Lineage

log = logging.getLogger(__name__)

#: The marker every extract attempt leaves in its folder: the load checks the folder by it.
DONE_FILE = "extract.json"


@dataclass(frozen=True)
class StreamExtracted:
    """What a stream's extract hands its load (no rows: paths and counts)."""

    stream: str
    conn_id: str
    retailer_id: str
    staging_dir: str
    window_start: str
    window_end: str
    extracted_at: str
    audit: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def window(self) -> SyncWindow:
        return SyncWindow(datetime.fromisoformat(self.window_start), datetime.fromisoformat(self.window_end))

    @property
    def result(self) -> Extracted:
        return Extracted(dict(self.audit), list(self.notes), self.complete, dict(self.info))


def run_extract(spec: StreamSpec, context: Any, conn_id: str, database: WarehouseTarget) -> StreamExtracted:
    """One account's extract: the run's window, staged into a new attempt folder, every response archived."""
    run: ExtractFn = functions_of(spec).extract
    window = stream_window(spec, context)
    root = staging_root(database.staging_anchor)
    run_dir = staging_dir(root, context["dag"].dag_id, context["run_id"], conn_id)
    hook = SyncHook(conn_id)
    audit: dict[str, Any] = {
        "conn_id": conn_id,
        "stream": spec.name,
        "window_start": window.start,
        "window_end": window.end,
    }
    extracted_at = datetime.now(UTC)
    with (
        audited(context, database, audit, hook, step="extract"),
        new_attempt(run_dir, context["ti"].try_number) as attempt,
        archive_responses(hook, context, window, extracted_at, database.staging_anchor) as archived,
    ):
        retailer_id = audit["retailer_id"] = hook.get_retailer_id()
        job = ExtractJob(
            context=context,
            spec=spec,
            conn_id=conn_id,
            retailer_id=retailer_id,
            hook=hook,
            window=window,
            now=extracted_at,
            staging=attempt,
            earlier=sibling_attempts(attempt),
            database=database,
            staging_root=root,
            params=context.get("params") or {},
            personal_secret=personal_secret_for(conn_id),
        )
        result = run(job)
        audit.update(result.audit)
        archived.window = read_window(result.audit, window)
        audit["error"] = "; ".join(result.notes) or None
        (attempt / DONE_FILE).write_text(spec.name, encoding="utf-8")
    return StreamExtracted(
        stream=spec.name,
        conn_id=conn_id,
        retailer_id=retailer_id,
        staging_dir=str(attempt),
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        extracted_at=extracted_at.isoformat(),
        audit=result.audit,
        notes=result.notes,
        complete=result.complete,
        info=result.info,
    )


def stream_window(spec: StreamSpec, context: Any) -> SyncWindow:
    """The run's window: the stream's own ``window(context)`` where its module has one (e.g. a period its params
    name), else the run's data interval."""
    own = getattr(functions_of(spec), "window", None) if spec.module else None
    window: SyncWindow = own(context) if own is not None else run_window(context)
    return window


def read_window(audit: dict[str, Any], window: SyncWindow) -> SyncWindow:
    """The window an extract reports it read (its audit's ``window_start``/``window_end``), else the run's."""
    start, end = audit.get("window_start"), audit.get("window_end")
    if start is None or end is None:
        return window
    parsed = [value if isinstance(value, datetime) else datetime.fromisoformat(str(value)) for value in (start, end)]
    return SyncWindow(parsed[0], parsed[1])


def run_load(spec: StreamSpec, context: Any, extracted: StreamExtracted, database: WarehouseTarget) -> dict[str, Any]:
    """Load one account's staged extract in one warehouse transaction; its per-table counts."""
    window = extracted.window
    audit: dict[str, Any] = {
        "conn_id": extracted.conn_id,
        "retailer_id": extracted.retailer_id,
        "stream": spec.name,
        "window_start": window.start,
        "window_end": window.end,
    }
    staging = Path(extracted.staging_dir)
    with (
        audited(context, database, audit, None, step="load"),
        reading_attempt(staging, DONE_FILE),
        connect_warehouse(database) as conn,
    ):
        scope = {"conn_id": extracted.conn_id, "retailer_id": extracted.retailer_id}
        job = LoadJob(
            context=context,
            spec=spec,
            conn_id=extracted.conn_id,
            retailer_id=extracted.retailer_id,
            conn=conn,
            database=database,
            staging=staging,
            window=window,
            lineage=Lineage.of_run(context, extracted.extracted_at),
            quarantine=Quarantine.of_run(spec.name, context, **scope, window_start=window.start, window_end=window.end),
            extracted=extracted.result,
            params=context.get("params") or {},
        )
        loaded = functions_of(spec).load(job)
        audit.update(loaded.audit)
        audit.update(
            rows_inserted=loaded.inserted,
            rows_updated=loaded.updated,
            quarantined=loaded.held,
            covered=extracted.complete and loaded.complete,
        )
        audit["error"] = "; ".join(note for note in loaded.notes if note) or None
        alert_new(conn, spec.name, extracted.conn_id, context)
        counts = {name: {"inserted": table.inserted, "updated": table.updated} for name, table in loaded.tables.items()}
        assets.emit(
            context,
            assets.stream_event_extras(
                conn, spec, conn_id=extracted.conn_id, retailer_id=extracted.retailer_id,
                run_id=context["run_id"], counts=counts,
            ),
        )  # fmt: skip
    clean_up_after_load(staging)
    for alert in loaded.alerts:
        alerts.send(alert, context)
    log.info(
        "%s of %s (retailer %s): %d rows inserted, %d changed, %d records held%s.",
        spec.name,
        extracted.conn_id,
        extracted.retailer_id,
        loaded.inserted,
        loaded.updated,
        loaded.held,
        "" if audit["covered"] else "; the window is not recorded as covered",
    )
    return {"conn_id": extracted.conn_id, "stream": spec.name, **counts_of(loaded.tables)}


def counts_of(tables: dict[str, Any]) -> dict[str, int]:
    """``{"<table>_inserted": n, "<table>_updated": m}`` of a load's per-table counts (table names unqualified)."""
    result: dict[str, int] = {}
    for name, counts in tables.items():
        short = name.split(".", 1)[-1]
        result[f"{short}_inserted"] = counts.inserted
        result[f"{short}_updated"] = counts.updated
    return result
