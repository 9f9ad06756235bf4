"""Staged API data on local disk, one NDJSON file per kind, so no data travels through XCom."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LIST_FILE = "order_list.ndjson"
DETAILS_FILE = "order_details.ndjson"


def staging_root(warehouse_file: Path) -> Path:
    """``$BOLSYNC_STAGING_DIR``, else a ``staging`` folder beside the warehouse file."""
    configured = os.environ.get("BOLSYNC_STAGING_DIR")
    return Path(configured) if configured else warehouse_file.parent / "staging"


def staging_dir(root: Path, dag_id: str, run_id: str, conn_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return root / dag_id / safe / conn_id


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


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
