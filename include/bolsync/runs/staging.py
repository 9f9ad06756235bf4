"""Staged API data on local disk, one file per kind, so no data travels through XCom.

Every stream stages per extract attempt: ``<root>/<dag>/<run>/<connection>/<attempt>/``. Two executions of
one task instance (a zombie and its retry, a cleared task still running, two deployments of one window)
thus never write the files another one's load is reading. An attempt folder is locked (``flock``) while
its extract writes it and while a load reads it, and marked when its extract finished; a load removes its
own folder and the sibling attempts no load can need any more (see ``prune_attempts``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bolsync.runs import config

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
#: Written (with the finish time) when an attempt's extract succeeded: its load may still be waiting.
EXTRACTED_MARKER = ".extracted"
#: A finished attempt no load removed after this long is an orphan (its load will never come).
ORPHAN_AFTER = timedelta(hours=24)
_STAMP = "%Y%m%dT%H%M%S%fZ"
_STAMP_LENGTH = len("20260101T000000000000Z")


class StagingGone(FileNotFoundError):
    """The staged files of an attempt are no longer there (removed after another execution loaded them)."""


def staging_root(warehouse_file: Path) -> Path:
    """``$BOLSYNC_STAGING_DIR``, else a ``staging`` folder beside the warehouse file."""
    return config.staging_root(warehouse_file.parent / "staging")


def staging_dir(root: Path, dag_id: str, run_id: str, conn_id: str) -> Path:
    """The folder of one run and connection (each extract attempt stages in a folder below it)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return root / dag_id / safe / conn_id


@contextmanager
def new_attempt(run_dir: Path, try_number: int) -> Iterator[Path]:
    """A new, empty folder below ``run_dir`` for one extract attempt, locked until the block ends and
    marked extracted when it ends without an error.

    Named ``<UTC creation time>-try<N>-<random>``: names sort by creation, and two executions of one try
    (two processes, or two metadata databases) still get a folder each. It is created under a hidden
    name and renamed once locked, so no cleanup ever sees it unlocked and unmarked while it is in use.
    """
    name = f"{datetime.now(UTC).strftime(_STAMP)}-try{try_number}-{secrets.token_hex(4)}"
    hidden = run_dir / f".{name}"
    for attempt in range(1, 4):
        try:
            hidden.mkdir(parents=True)
            break
        except FileNotFoundError:  # a parent was removed meanwhile by a finishing load's cleanup
            if attempt == 3:
                raise
    fd = os.open(hidden / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        folder = hidden.rename(run_dir / name)
        yield folder
        (folder / EXTRACTED_MARKER).write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
    finally:
        os.close(fd)


def attempt_dirs(run_dir: Path) -> list[Path]:
    """The attempt folders below ``run_dir``, oldest first."""
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if _created(p) is not None and p.is_dir())


def sibling_attempts(folder: Path) -> list[Path]:
    """The other attempt folders of the same run and connection, newest first."""
    return [p for p in reversed(attempt_dirs(folder.parent)) if p != folder]


@contextmanager
def reading_attempt(folder: Path, required_file: str) -> Iterator[None]:
    """Hold ``folder`` (shared) while a load reads it: no cleanup removes it meanwhile.

    Raises StagingGone when ``required_file`` is gone (another execution loaded and removed the folder).
    """
    gone = StagingGone(
        f"staged files in {folder} are gone (removed after another execution of this run loaded them); "
        "clear the extract task of this run to stage the window again."
    )
    if not (folder / required_file).exists():
        raise gone
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError as error:
        raise gone from error
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if not (folder / required_file).exists():
            raise gone
        yield
    finally:
        os.close(fd)


def remove_attempt(folder: Path) -> bool:
    """Remove an attempt folder unless another process holds it; True when it is gone."""
    with _held_exclusively(folder) as held:
        if held:
            shutil.rmtree(folder, ignore_errors=True)
    return held or not folder.exists()


def prune_attempts(folder: Path, now: datetime | None = None) -> list[Path]:
    """Remove the sibling attempts of ``folder`` (whose load just succeeded) that no load can need, and
    the run's folders once empty. Returns the removed attempts.

    Removed: attempts whose extract failed or was killed (unlocked, not marked extracted: whatever a
    retry could reuse from them it has reused), attempts that finished before ``folder`` was created
    (superseded: the run was extracted again since) and orphans finished over ``ORPHAN_AFTER`` ago.
    Kept: attempts in use (an extract writing, a load reading) and attempts that finished while
    ``folder`` was extracted: a concurrent execution whose load may not have started yet.
    """
    now = now or datetime.now(UTC)
    created = _created(folder)
    if created is None:  # not an attempt folder (staged before attempts had folders of their own)
        return []
    removed = []
    for sibling in attempt_dirs(folder.parent):
        if sibling == folder:
            continue
        with _held_exclusively(sibling) as held:
            if not held:
                continue
            finished = _finished(sibling)
            if finished is not None and finished >= created and now - finished < ORPHAN_AFTER:
                continue  # finished while this attempt was extracted: a concurrent execution's load may be due
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    if removed:
        log.info("Removed %d earlier staging attempts of %s: %s", len(removed), folder.parent, removed)
    for empty in (folder.parent, folder.parent.parent):
        try:
            empty.rmdir()
        except OSError:  # not empty (another attempt, another connection) or already gone
            break
    return removed


def clean_up_after_load(folder: Path) -> None:
    """After a successful load: remove its attempt folder and the siblings no load can need. Never raises
    (the data is loaded; a leftover folder is removed by a later load of the run)."""
    try:
        remove_attempt(folder)
        prune_attempts(folder)
    except OSError as error:
        log.warning("Could not clean up the staging folder %s: %s", folder, error)


def read_ndjson(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete JSON object line; a torn last line (a crash mid-write) is skipped with a warning."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                log.warning("Skipping unreadable line %d of %s (interrupted write).", number, path)


class NdjsonWriter:
    """Appends one JSON object per line and flushes each, so a crash loses at most the last line."""

    def __init__(self, path: Path, *, append: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("a" if append else "w", encoding="utf-8")

    def write(self, obj: dict[str, Any]) -> None:
        self._handle.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextmanager
def _held_exclusively(folder: Path) -> Iterator[bool]:
    """Try to lock an attempt folder exclusively without waiting; yields whether it is held."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:  # gone, or not an attempt folder
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _created(folder: Path) -> datetime | None:
    try:
        return datetime.strptime(folder.name[:_STAMP_LENGTH], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _finished(folder: Path) -> datetime | None:
    """When the attempt's extract finished, or None when it never did."""
    marker = folder / EXTRACTED_MARKER
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a torn write: the extract did finish
        return datetime.fromtimestamp(marker.stat().st_mtime, UTC)
