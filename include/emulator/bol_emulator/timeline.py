"""Per-client request timeline for benchmarks: arrival time, kind and status of every request (bounded)."""

from __future__ import annotations

import threading
from array import array
from dataclasses import dataclass, field
from typing import Any

MAX_ENTRIES = 1_000_000
KINDS = ("api", "token")
DROPPED = 0  # status recorded for a dropped connection


@dataclass
class _Track:
    times: array = field(default_factory=lambda: array("d"))
    kinds: array = field(default_factory=lambda: array("b"))
    statuses: array = field(default_factory=lambda: array("H"))


class Timeline:
    """Compact arrays per client (~11 bytes per entry); stops recording after ``limit`` entries in total."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tracks: dict[str, _Track] = {}
            self.size = 0
            self.not_recorded = 0

    def record(self, client: str, kind: str, arrival: float, status: int) -> None:
        """One request of ``kind`` (``api`` or ``token``) that arrived at ``arrival`` (epoch seconds)."""
        with self.lock:
            if self.size >= self.limit:
                self.not_recorded += 1
                return
            track = self.tracks.setdefault(client, _Track())
            track.times.append(arrival)
            track.kinds.append(KINDS.index(kind))
            track.statuses.append(status)
            self.size += 1

    def of(self, client: str) -> dict[str, Any]:
        """The JSON of ``GET /_emulator/stats/timeline?client_id=``: entries in arrival order."""
        with self.lock:
            track = self.tracks.get(client, _Track())
            rows = sorted(zip(track.times, track.kinds, track.statuses, strict=True))
            not_recorded = self.not_recorded
        result: dict[str, Any] = {"client_id": client}
        for index, kind in enumerate(KINDS):
            result[kind] = [
                {"t": t, "status": status, "answered_429": status == 429} for t, k, status in rows if k == index
            ]
        result["not_recorded"] = not_recorded
        return result
