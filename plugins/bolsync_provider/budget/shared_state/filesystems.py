"""Which filesystem a path lies on (Linux ``/proc/mounts``), to keep a SQLite file off network filesystems.

SQLite's WAL mode keeps its index in shared memory next to the file, which only processes of one host
share, and network filesystems do not give the locks it needs: a WAL file there corrupts or deadlocks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MOUNTS_FILE = Path("/proc/mounts")
#: Filesystem types served over a network or shared between hosts (as /proc/mounts names them).
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "ocfs2",
        "gfs2",
        "davfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.cephfs",
        "fuse.ceph-fuse",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.rclone",
        "fuse.davfs2",
        "fuse.juicefs",
        "fuse.mountpoint-s3",
        "fuse.blobfuse",
        "fuse.blobfuse2",
    }
)
_ESCAPE = re.compile(r"\\([0-7]{3})")


def filesystem_type(path: Path, mounts: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (or its nearest existing parent); None if unknown.

    ``mounts`` is the text of /proc/mounts (read when None; None where there is no such file).
    """
    if mounts is None:
        try:
            mounts = MOUNTS_FILE.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = os.path.realpath(_existing(path))
    best: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape(fields[1])
        if _contains(point, target) and (best is None or len(point) >= best[0]):
            best = (len(point), fields[2])
    return best[1] if best else None


def network_filesystem(path: Path, mounts: str | None = None) -> str | None:
    """The network filesystem type ``path`` lies on, or None for a local one (or when it cannot be told)."""
    kind = filesystem_type(path, mounts)
    return kind if kind is not None and kind.lower() in NETWORK_FILESYSTEMS else None


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _contains(mount_point: str, path: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def _unescape(field: str) -> str:
    """/proc/mounts writes a space, tab, newline or backslash in a path as an octal escape (``\\040``)."""
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)
