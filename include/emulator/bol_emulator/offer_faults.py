"""Offer-export faults: export processes that end in FAILURE/TIMEOUT, and a changed CSV column layout."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

OFFER_FAULT_KINDS = ("export_outcome", "csv_columns")
OUTCOMES = ("FAILURE", "TIMEOUT")
ORDERS = ("reversed", "shuffled")
EXTRA_VALUE = "extra"


@dataclass
class ColumnLayout:
    """How export CSVs deviate from the standard header: extra columns, dropped ones, another order."""

    extra: list[str] = field(default_factory=lambda: ["unknownColumn"])
    position: int | None = None  # where the extra columns go (None: at the end)
    drop: list[str] = field(default_factory=list)
    order: str | None = None  # None, "reversed" or "shuffled"
    client_id: str | None = None

    def apply(self, columns: list[str], seed: str) -> list[str]:
        """The header to write (extra columns hold the value ``extra`` on every line)."""
        kept = [c for c in columns if c not in self.drop]
        at = len(kept) if self.position is None else min(self.position, len(kept))
        result = kept[:at] + [c for c in self.extra if c not in kept] + kept[at:]
        if self.order == "reversed":
            result.reverse()
        elif self.order == "shuffled":
            random.Random(seed).shuffle(result)
        return result


def _names(raw: dict[str, Any], key: str, default: list[str]) -> list[str]:
    value = raw.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings")
    return value


class OfferFaults:
    """``export_outcome`` rules (consumed by export requests) and ``csv_columns`` layouts; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.outcomes: list[dict[str, Any]] = []
            self.layouts: dict[str | None, ColumnLayout] = {}

    def add(self, raw: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        """Validate and store one fault; ValueError if malformed."""
        if raw.get("kind") == "export_outcome":
            status = raw.get("status", "FAILURE")
            count = raw.get("count", 1)
            if status not in OUTCOMES:
                raise ValueError(f"status must be one of {', '.join(OUTCOMES)}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError("count must be an integer >= 1")
            rule = {"kind": "export_outcome", "status": status, "count": count, "client_id": client_id}
            with self.lock:
                self.outcomes.append(rule)
            return dict(rule)
        position = raw.get("position")
        if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
            raise ValueError("position must be an integer >= 0")
        if raw.get("order") not in (None, *ORDERS):
            raise ValueError(f"order must be one of {', '.join(ORDERS)} or null")
        layout = ColumnLayout(
            _names(raw, "extra", ["unknownColumn"]), position, _names(raw, "drop", []), raw.get("order"), client_id
        )
        with self.lock:
            self.layouts[client_id] = layout
        return {"kind": "csv_columns", **asdict(layout)}

    def take_outcome(self, client_id: str) -> str | None:
        """The forced end state of the next export of ``client_id``, if a rule matches (consumes it)."""
        with self.lock:
            for rule in self.outcomes:
                if rule["client_id"] in (None, client_id):
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.outcomes.remove(rule)
                    return str(rule["status"])
        return None

    def layout(self, client_id: str) -> ColumnLayout | None:
        with self.lock:
            return self.layouts.get(client_id, self.layouts.get(None))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "export_outcomes": [dict(rule) for rule in self.outcomes],
                "csv_columns": [{"kind": "csv_columns", **asdict(layout)} for layout in self.layouts.values()],
            }
