"""Staging of opted-in customer data: ``personal.ndjson`` beside the order files of one extract attempt."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bolsync.personal.records import personal_record
from bolsync.runs.staging import NdjsonWriter, read_ndjson

log = logging.getLogger(__name__)

PERSONAL_FILE = "personal.ndjson"


class PersonalStaging:
    """Writes personal rows of new orders (nothing at all without a secret, i.e. when not opted in)."""

    def __init__(self, staging: Path, reuse_from: Sequence[Path], reused: set[str], secret: bytes | None) -> None:
        self._path = staging / PERSONAL_FILE
        self._reuse_from = reuse_from
        self._reused = reused
        self._secret = secret
        self._writer: NdjsonWriter | None = None

    def __enter__(self) -> PersonalStaging:
        if self._secret is not None:
            self._writer = NdjsonWriter(self._path, append=False)
            for row in _staged_rows(self._reuse_from, self._reused):
                self._writer.write(row)
        return self

    def add(self, order: Mapping[str, Any]) -> None:
        if self._writer is not None and self._secret is not None:
            row = personal_record(order, self._secret)
            row["order_placed_at"] = order.get("orderPlacedDateTime")
            self._writer.write(row)

    def __exit__(self, *_: object) -> None:
        if self._writer is not None:
            self._writer.close()


def _staged_rows(folders: Sequence[Path], wanted: set[str]) -> Iterator[dict[str, Any]]:
    """Personal rows an earlier attempt staged for orders this attempt reuses."""
    seen: set[str] = set()
    for folder in folders:
        try:
            for row in read_ndjson(folder / PERSONAL_FILE):
                if row.get("order_id") in wanted and row["order_id"] not in seen:
                    seen.add(row["order_id"])
                    yield row
        except OSError:
            continue


def staged_personal_rows(staging: Path) -> list[dict[str, Any]]:
    """The personal rows of an attempt folder ([] when the account is not opted in)."""
    path = staging / PERSONAL_FILE
    return list(read_ndjson(path)) if path.exists() else []
