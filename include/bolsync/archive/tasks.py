"""What the extract and cleanup tasks do about the raw archive: attach it to the hook, purge it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bolsync.archive.location import archive_location
from bolsync.archive.purge import purge_archive
from bolsync.archive.writer import ArchiveRun, ResponseArchive
from bolsync.personal.policy import policy_for, purge_policy
from bolsync.runs import config
from bolsync.runs.windows import SyncWindow
from bolsync_provider.errors import BolConfigError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook

log = logging.getLogger(__name__)


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
) -> Iterator[None]:
    """Archive every data response ``hook`` receives in the block (nothing when the archive is off).

    ``personal``: whether the responses may keep customer data; by default the account's opt-in. ``listed_at``:
    for a list of records, when the source took it (a replay places the list in time by it). The attempt is
    marked complete (replayable) only when the block ends without an error.
    """
    location = archive_location(anchor)
    if location is None:
        yield
        return
    ti = context["ti"]
    run = ArchiveRun(context["dag"].dag_id, context["run_id"], hook.bol_conn_id, int(ti.try_number))
    if personal is None:
        personal = policy_for(hook.bol_conn_id).store
    archive = ResponseArchive(location, run, personal=personal)
    hook.response_sink = archive
    try:
        yield
    finally:
        hook.response_sink = None
        archive.close()
    archive.finish(
        retailer_id=hook.get_retailer_id(),
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        extracted_at=extracted_at.isoformat(),
        **({"listed_at": listed_at.isoformat()} if listed_at else {}),
    )
    log.info("Archived %d API responses in %s.", archive.manifest["responses"], archive.folder)


def purge_expired_archives(anchor: Path) -> None:
    """Remove archived attempts past their retention (see ``archive.purge``); never fails the task."""
    try:
        location = archive_location(anchor)
        if location is not None:
            purge_archive(location, config.archive_retention_days(), purge_policy, datetime.now(UTC))
    except (OSError, BolConfigError) as error:
        log.warning("The raw archive was not purged: %s", error)
