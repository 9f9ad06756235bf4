"""Counters a sync reports into ``bol.sync_runs``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class ApiMetrics:
    """What one hook did on the wire. Thread-safe increments via :meth:`add`."""

    api_calls: int = 0
    retries: int = 0
    throttled: int = 0
    token_requests: int = 0
    rate_wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **increments: float) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
