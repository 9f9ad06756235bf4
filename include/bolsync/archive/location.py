"""Where the raw archive lives: a local folder (owner-only, like staging) or any fsspec URL.

Layout, like staging: ``<root>/<dag>/<run>/<connection>/<attempt>/`` holding ``responses.ndjson.gz`` (one
response a line) and ``manifest.json`` (what the extract was; ``complete`` once it succeeded).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from bolsync.runs import config
from bolsync.runs.staging import FOLDER_MODE, open_private, staging_root

RESPONSES_FILE = "responses.ndjson.gz"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ArchiveLocation:
    """An archive root on a file system."""

    fs: AbstractFileSystem
    root: str

    @property
    def local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        return str(PurePosixPath(self.root, *parts))

    def make_folders(self, relative: str) -> str:
        """Create ``root/relative`` (each level owner-only on a local disk); its path."""
        if not self.local:
            target = self.path(relative)
            self.fs.makedirs(target, exist_ok=True)
            return target
        current = Path(self.root)
        _private_folder(current)
        for part in PurePosixPath(relative).parts:
            current = current / part
            _private_folder(current)
        return str(current)

    def open_write(self, path: str) -> IO[bytes]:
        """A new file for writing (owner-only on a local disk)."""
        if self.local:
            return os.fdopen(open_private(Path(path), os.O_WRONLY | os.O_TRUNC), "wb")
        return self.fs.open(path, "wb")  # type: ignore[no-any-return]

    def open_read(self, path: str) -> IO[bytes]:
        return self.fs.open(path, "rb")  # type: ignore[no-any-return]

    def write_json(self, path: str, value: dict[str, Any]) -> None:
        """Replace ``path`` with ``value``: written aside, then moved in place (whole or not there)."""
        part = f"{path}.part"
        with self.open_write(part) as handle:
            handle.write(json.dumps(value, indent=1, sort_keys=True).encode("utf-8"))
        self.fs.mv(part, path)

    def read_json(self, path: str) -> dict[str, Any] | None:
        try:
            with self.open_read(path) as handle:
                value = json.loads(handle.read().decode("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def folders(self, path: str) -> list[str]:
        """The sub-folders of ``path`` (none when it does not exist)."""
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(str(entry["name"]) for entry in entries if entry.get("type") == "directory")

    def remove(self, path: str) -> None:
        self.fs.rm(path, recursive=True)


def archive_location(anchor: Path) -> ArchiveLocation | None:
    """The configured archive (``[bolsync] archive_url``), by default ``archive`` beside the staging root;
    None when the archive is off."""
    url = config.archive_url(staging_root(anchor).parent / "archive")
    return None if url is None else location_of(url)


def location_of(url: str) -> ArchiveLocation:
    """The archive at ``url`` (a folder or an fsspec URL)."""
    fs, root = url_to_fs(url)
    return ArchiveLocation(fs, str(root).rstrip("/") or "/")


def _private_folder(path: Path) -> None:
    try:
        path.mkdir(mode=FOLDER_MODE, parents=True)
    except FileExistsError:
        info = path.stat()
        if info.st_mode & 0o077 and info.st_uid == os.geteuid():
            path.chmod(FOLDER_MODE)
        return
    path.chmod(FOLDER_MODE)
