"""Removal of archived attempts past their retention.

Every attempt goes after ``[bolsync] archive_retention_days``. One holding customer data (an opted-in
account's, ``personal`` in its manifest) goes sooner, as the personal-data policy says: after the account's
``retention_days`` while it opts in, at once when it no longer does or its connection is gone; while its
policy cannot be read it is kept (up to the archive's own retention), as the personal store keeps contacts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bolsync.archive.location import MANIFEST_FILE, ArchiveLocation
from bolsync.archive.writer import STAMP
from bolsync.personal.policy import PersonalDataPolicy

log = logging.getLogger(__name__)

#: conn_id -> its personal-data policy (None: unreadable).
PolicyOf = Callable[[str], PersonalDataPolicy | None]


@dataclass(frozen=True)
class ArchivePurge:
    """The attempts a purge removed, and those past their retention it could not remove."""

    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def purge_archive(location: ArchiveLocation, retention_days: int, policy_of: PolicyOf, now: datetime) -> ArchivePurge:
    """Remove the attempts past their retention. A folder that cannot be removed is logged and listed in
    ``failed``, never raised: the others are still removed."""
    removed, failed = [], []
    policies: dict[str, PersonalDataPolicy | None] = {}
    for folder in _attempts(location):
        created = _created(folder)
        if created is None:
            continue
        keep = timedelta(days=retention_days)
        expired = now - created >= keep
        manifest = {} if expired else location.read_json(location.path(folder, MANIFEST_FILE)) or {}
        conn_id = str(manifest.get("conn_id") or "")
        if manifest.get("personal") and conn_id:
            if conn_id not in policies:
                policies[conn_id] = policy_of(conn_id)
            policy = policies[conn_id]
            if policy is not None:
                keep = min(keep, timedelta(days=policy.retention_days if policy.store else 0))
        if now - created < keep:
            continue
        try:
            location.remove(folder)
        except OSError as error:
            log.warning("Could not remove the archived attempt %s: %s", folder, error)
            failed.append(folder)
            continue
        removed.append(folder)
        _remove_empty_parents(location, folder)
    if removed:
        log.info("Archive %s: removed %d attempts past their retention.", location.root, len(removed))
    return ArchivePurge(removed, failed)


def _attempts(location: ArchiveLocation) -> list[str]:
    """Every folder at attempt depth (``<dag>/<run>/<connection>/<attempt>``)."""
    levels = [location.root]
    for _ in range(4):
        levels = [sub for folder in levels for sub in location.folders(folder)]
    return levels


def _remove_empty_parents(location: ArchiveLocation, folder: str) -> None:
    """On a local disk: the attempt's connection folder, then its run folder, each once empty."""
    if not location.local:
        return
    parent = os.path.dirname(folder)
    for _ in range(2):
        try:
            os.rmdir(parent)
        except OSError:  # not empty, or gone
            return
        parent = os.path.dirname(parent)


def _created(folder: str) -> datetime | None:
    name = folder.rstrip("/").rsplit("/", 1)[-1]
    try:
        return datetime.strptime(name.split("-", 1)[0], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
