"""Staged API data on local disk, one file per kind, so no data travels through XCom.

Every stream stages per extract attempt: ``<root>/<dag>/<run>/<connection>/<attempt>/``. Two executions of
one task instance (a zombie and its retry, a cleared task still running, two deployments of one window)
thus never write the files another one's load is reading. An attempt folder is locked (``flock``) while
its extract writes it and while a load reads it, and marked when its extract finished; a load removes its
own folder and the sibling attempts no load can need any more (see ``prune_attempts``), and each extract
first removes the attempts anywhere below the root that nothing will read any more (see ``sweep_orphans``).

The tree is owner-only whatever the umask (folders 0700, files 0600): an opted-in account's attempt folder
holds customer personal data. Every lock is given up after a timeout with an error naming its holder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bolsync.runs import config
from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
#: Written (with the finish time) when an attempt's extract succeeded: its load may still be waiting.
EXTRACTED_MARKER = ".extracted"
#: An attempt no process holds is an orphan this long after it was created or finished: removed.
ORPHAN_AFTER = timedelta(hours=24)
#: How long a load waits for an attempt folder another process holds (an extract still writing it).
STAGING_LOCK_TIMEOUT = timedelta(minutes=10)
FOLDER_MODE = 0o700
FILE_MODE = 0o600
MAX_SEGMENT_LENGTH = 200
_SEGMENT = re.compile(rf"[\w.-]{{1,{MAX_SEGMENT_LENGTH}}}")
_STAMP = "%Y%m%dT%H%M%S%fZ"
_STAMP_LENGTH = len("20260101T000000000000Z")


class StagingGone(FileNotFoundError):
    """The staged files of an attempt are no longer there (removed after another execution loaded them)."""


class LockTimeout(TimeoutError):
    """A lock another process held for longer than its timeout (the message names the file and the holder)."""


def staging_root(warehouse_file: Path) -> Path:
    """``$BOLSYNC_STAGING_DIR``, else a ``staging`` folder beside the warehouse file."""
    return config.staging_root(warehouse_file.parent / "staging")


def staging_dir(root: Path, dag_id: str, run_id: str, conn_id: str) -> Path:
    """The folder of one run and connection (each extract attempt stages in a folder below it).

    The DAG and connection ids must be safe folder names (BolConfigError otherwise); the run id is made one.
    """
    return root / safe_segment(dag_id, "DAG id") / _run_segment(run_id) / safe_segment(conn_id, "connection id")


def safe_segment(value: str, what: str) -> str:
    """``value`` when it is a safe folder name: letters, digits, ``_``, ``-``, ``.``; 1-200 long; not . or .."""
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise BolConfigError(
            f"{what} {value!r} cannot name a staging folder: use letters, digits, '_', '-' and '.' only "
            f"(at most {MAX_SEGMENT_LENGTH} characters, not '.' or '..')."
        )
    return value


def _run_segment(run_id: str) -> str:
    """The run id when it is a safe folder name, else its safe characters and a hash of it (still unique)."""
    if _SEGMENT.fullmatch(run_id) and run_id not in (".", ".."):
        return run_id
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id).lstrip(".")
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:12]
    return f"{safe[: MAX_SEGMENT_LENGTH - len(digest) - 1]}-{digest}"


@contextmanager
def new_attempt(run_dir: Path, try_number: int) -> Iterator[Path]:
    """A new, empty folder below ``run_dir`` (a :func:`staging_dir`) for one extract attempt, locked until the
    block ends and marked extracted when it ends without an error. Orphans anywhere below the staging root
    are removed first (:func:`sweep_orphans`).

    Named ``<UTC creation time>-try<N>-<random>``: names sort by creation, and two executions of one try
    (two processes, or two metadata databases) still get a folder each. It is created under a hidden
    name and renamed once locked, so no cleanup ever sees it unlocked and unmarked while it is in use.
    """
    root = _root_of(run_dir)
    sweep_orphans(root)
    name = f"{datetime.now(UTC).strftime(_STAMP)}-try{try_number}-{secrets.token_hex(4)}"
    hidden = run_dir / f".{name}"
    for attempt in range(1, 4):
        try:
            _private_folders(root, hidden)
            break
        except FileNotFoundError:  # a parent was removed meanwhile by a finishing load's cleanup
            if attempt == 3:
                raise
    fd = open_private(hidden / LOCK_FILE, os.O_RDWR)
    try:
        flock_within(fd, fcntl.LOCK_EX, STAGING_LOCK_TIMEOUT, f"the new staging folder {hidden}", "end that process")
        record_holder(fd)
        folder = hidden.rename(run_dir / name)
        yield folder
        write_private_text(folder / EXTRACTED_MARKER, datetime.now(UTC).isoformat())
    finally:
        os.close(fd)


def attempt_dirs(run_dir: Path) -> list[Path]:
    """The attempt folders below ``run_dir``, oldest first."""
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if _created(p.name) is not None and p.is_dir())


def sibling_attempts(folder: Path) -> list[Path]:
    """The other attempt folders of the same run and connection, newest first."""
    return [p for p in reversed(attempt_dirs(folder.parent)) if p != folder]


@contextmanager
def reading_attempt(folder: Path, required_file: str) -> Iterator[None]:
    """Hold ``folder`` (shared) while a load reads it: no cleanup removes it meanwhile.

    Raises StagingGone when ``required_file`` is gone (another execution loaded and removed the folder), and
    LockTimeout when an extract still holds the folder after ``STAGING_LOCK_TIMEOUT``.
    """
    gone = StagingGone(
        f"staged files in {folder} are gone (removed after another execution of this run loaded them, or "
        f"unloaded for over {_duration(ORPHAN_AFTER)}); clear the extract task of this run to stage the window again."
    )
    if not (folder / required_file).exists():
        raise gone
    try:
        fd = open_private(folder / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError as error:
        raise gone from error
    try:
        flock_within(
            fd,
            fcntl.LOCK_SH,
            STAGING_LOCK_TIMEOUT,
            f"the staging folder {folder}",
            "an extract still writes it: find that stuck task and end it, then clear this one",
        )
        if not (folder / required_file).exists():
            raise gone
        yield
    finally:
        os.close(fd)


def remove_attempt(folder: Path) -> bool:
    """Remove an attempt folder unless another process holds it; True when it is gone."""
    with _held_exclusively(folder) as held:
        if held:
            return _remove_tree(folder)
    return not folder.exists()


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
    created = _created(folder.name)
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
            if _remove_tree(sibling):
                removed.append(sibling)
    if removed:
        log.info("Removed %d earlier staging attempts of %s: %s", len(removed), folder.parent, removed)
    _remove_empty(folder.parent)
    return removed


def sweep_orphans(root: Path, now: datetime | None = None) -> list[Path]:
    """Remove the attempt folders anywhere below ``root`` (every DAG, run and connection) that no process
    holds and that were created, or finished, over ``ORPHAN_AFTER`` ago; then their run's folders once empty.

    A failed attempt's files thus stay for the retries of its run (which reuse them) for a day, and never
    longer. Returns the removed folders; never raises (a folder it cannot check or remove is logged).
    """
    now = now or datetime.now(UTC)
    removed = []
    for folder in _attempts_below(root):
        try:
            created = _created(folder.name.lstrip("."))
            if created is None or now - max(created, _finished(folder) or created) < ORPHAN_AFTER:
                continue
            with _held_exclusively(folder) as held:
                if not held or not _remove_tree(folder):
                    continue
        except OSError as error:
            log.warning("Could not check the staging folder %s for removal: %s", folder, error)
            continue
        removed.append(folder)
        _remove_empty(folder.parent)
    if removed:
        log.info(
            "Removed %d orphaned staging attempts (no process holds them; over %s old): %s",
            len(removed),
            _duration(ORPHAN_AFTER),
            removed,
        )
    return removed


def clean_up_after_load(folder: Path) -> None:
    """After a successful load: remove its attempt folder and the siblings no load can need. Never raises
    (the data is loaded; a folder that cannot be removed is logged, and removed by a later sweep)."""
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
    """Appends one JSON object per line (to an owner-only file) and flushes each, so a crash loses at most
    the last line.

    A lone surrogate (bol may send ``"\\ud800"`` in a text) cannot be written as UTF-8; it is written as its JSON
    escape instead (it only occurs inside JSON strings), so the line reads back the same.
    """

    def __init__(self, path: Path, *, append: bool) -> None:
        path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        fd = open_private(path, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
        self._handle = os.fdopen(fd, "a" if append else "w", encoding="utf-8", errors="backslashreplace")

    def write(self, obj: dict[str, Any]) -> None:
        self._handle.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_private(path: Path, flags: int) -> int:
    """``os.open`` creating ``path`` if missing; the file is owner-only (0600) whatever the umask.

    A file another user owns keeps its mode (only its owner may change it).
    """
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        info = os.fstat(fd)
        if info.st_mode & 0o777 != FILE_MODE and info.st_uid == os.geteuid():
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (replacing it), owner-only."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as handle:
        handle.write(text)


def flock_within(fd: int, operation: int, timeout: timedelta, what: str, advice: str) -> float:
    """``flock`` ``fd`` (``fcntl.LOCK_EX`` or ``LOCK_SH``), waiting at most ``timeout``; the seconds waited.

    Logs once when it has to wait. Raises LockTimeout naming ``what``, the holder its lock file records
    (:func:`record_holder`) and ``advice``.
    """
    started = time.monotonic()
    deadline = started + timeout.total_seconds()
    delay = 0.05
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return time.monotonic() - started
        except BlockingIOError:
            now = time.monotonic()
            if now >= deadline:
                raise LockTimeout(
                    f"Another process holds {what} ({_holder(fd)}) and did not let go within "
                    f"{_duration(timeout)}; {advice}."
                ) from None
            if delay == 0.05:
                log.info("Waiting (at most %s) for %s, held by %s.", _duration(timeout), what, _holder(fd))
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 1.0)


def record_holder(fd: int) -> None:
    """Write who holds the lock into its (locked) lock file, for the error of a process that times out."""
    task = [os.environ.get(f"AIRFLOW_CTX_{key}") for key in ("DAG_ID", "TASK_ID", "DAG_RUN_ID", "TRY_NUMBER")]
    note = f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    if task[0] and task[1]:
        note += f", task {task[0]}.{task[1]} of run {task[2]} (try {task[3]})"
    os.ftruncate(fd, 0)
    os.pwrite(fd, note.encode("utf-8"), 0)


def _holder(fd: int) -> str:
    try:
        note = os.pread(fd, 1000, 0).decode("utf-8", errors="replace").strip()
    except OSError:
        note = ""
    return note or "a process that did not record itself"


def _duration(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes / 60:g} hours" if minutes >= 120 else f"{minutes:g} minutes"


def _root_of(run_dir: Path) -> Path:
    """The staging root of a :func:`staging_dir` (``<root>/<dag>/<run>/<connection>``)."""
    if len(run_dir.parents) < 3:
        raise ValueError(f"{run_dir} is not a staging folder <root>/<dag>/<run>/<connection>")
    return run_dir.parents[2]


def _private_folders(root: Path, folder: Path) -> None:
    """Create ``folder`` below ``root`` owner-only, and make its existing folders below the root owner-only
    (the root itself, maybe a shared folder, is only created when missing)."""
    _private_folder(root, tighten=False)
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        _private_folder(current, tighten=True)


def _private_folder(path: Path, *, tighten: bool) -> None:
    try:
        path.mkdir(mode=FOLDER_MODE, parents=True)
    except FileExistsError:
        info = path.stat()
        if tighten and info.st_mode & 0o077 and info.st_uid == os.geteuid():
            path.chmod(FOLDER_MODE)
        return
    path.chmod(FOLDER_MODE)  # the umask may have taken bits the owner needs


def _attempts_below(root: Path) -> list[Path]:
    """Every folder at attempt depth (``<dag>/<run>/<connection>/<attempt>``) below ``root``."""
    levels = [root]
    for _ in range(4):
        below: list[Path] = []
        for folder in levels:
            try:
                below.extend(p for p in folder.iterdir() if p.is_dir())
            except OSError:  # gone meanwhile, or not readable
                continue
        levels = below
    return levels


def _remove_tree(folder: Path) -> bool:
    """Remove ``folder``; True when it is gone. A failure is logged as a warning naming the folder, not raised."""
    failures: list[str] = []

    def failed(_function: Any, path: str, error: BaseException) -> None:
        if not isinstance(error, FileNotFoundError):
            failures.append(f"{path}: {error}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=failed)
    else:
        shutil.rmtree(folder, onerror=lambda function, path, info: failed(function, path, info[1]))
    if failures:
        log.warning(
            "Could not remove the staging folder %s (%s); it holds staged API data (personal data of opted-in "
            "accounts too): remove it by hand.",
            folder,
            "; ".join(failures[:3]),
        )
        return False
    return True


def _remove_empty(run_connection: Path) -> None:
    """Remove a connection's folder and then its run's folder, each once empty."""
    for empty in (run_connection, run_connection.parent):
        try:
            empty.rmdir()
        except OSError:  # not empty (another attempt, another connection) or already gone
            break


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


def _created(name: str) -> datetime | None:
    try:
        return datetime.strptime(name[:_STAMP_LENGTH], _STAMP).replace(tzinfo=UTC)
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
