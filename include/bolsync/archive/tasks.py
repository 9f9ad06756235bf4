"""What the tasks do about the raw archive: the extracts attach it to the hook, the retention DAG purges it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bolsync.archive.location import ArchiveLocation, archive_location
from bolsync.archive.purge import ArchivePurge, purge_archive
from bolsync.archive.writer import ArchiveRun, ResponseArchive
from bolsync.personal.policy import policy_for, purge_policy
from bolsync.runs import config
from bolsync.runs.windows import SyncWindow
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)


@dataclass
class ArchivedWindow:
    """The window an archived attempt's manifest names; the extract may narrow it to what it actually read (a
    snapshot stream reads the day it runs on, not its run's data interval), so a replay finds it by that day."""

    window: SyncWindow


@contextmanager
def archive_responses(
    hook: BolRetailerHook,
    context: Any,
    window: SyncWindow,
    extracted_at: datetime,
    anchor: Path,
    *,
    personal: bool | None = None,
    listed_at: datetime | None = None,
) -> Iterator[ArchivedWindow]:
    """Archive every data response ``hook`` receives in the block (nothing when the archive is off); the block
    may set the yielded record's window to the one it read.

    ``personal``: whether the responses may keep customer data; by default the account's opt-in. ``listed_at``:
    for a list of records, when the source took it (a replay places the list in time by it). The attempt is
    marked complete (replayable) only when the block ends without an error.
    """
    archived = ArchivedWindow(window)
    location = archive_location(anchor)
    if location is None:
        yield archived
        return
    ti = context["ti"]
    run = ArchiveRun(context["dag"].dag_id, context["run_id"], hook.bol_conn_id, int(ti.try_number))
    if personal is None:
        personal = policy_for(hook.bol_conn_id).store
    archive = ResponseArchive(location, run, personal=personal)
    hook.response_sink = archive
    try:
        yield archived
    finally:
        hook.response_sink = None
        archive.close()
    archive.finish(
        retailer_id=hook.get_retailer_id(),
        window_start=archived.window.start.isoformat(),
        window_end=archived.window.end.isoformat(),
        extracted_at=extracted_at.isoformat(),
        **({"listed_at": listed_at.isoformat()} if listed_at else {}),
    )
    log.info("Archived %d API responses in %s.", archive.manifest["responses"], archive.folder)


def purge_expired_archives(anchor: Path, now: datetime | None = None) -> tuple[ArchiveLocation, ArchivePurge] | None:
    """Remove archived attempts past their retention (see ``archive.purge``); None when the archive is off.

    Raises BolConfigError for a bad archive setting and OSError when the archive cannot be read.
    """
    location = archive_location(anchor)
    if location is None:
        return None
    return location, purge_archive(location, config.archive_retention_days(), purge_policy, now or datetime.now(UTC))
