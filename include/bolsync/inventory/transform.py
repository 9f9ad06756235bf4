"""Pure transforms from bol's FBB inventory list (``Inventory`` entries) to warehouse rows (no I/O).

Each entry is checked against what the columns of ``bol.inventory`` hold (``runs.values``): an EAN (the key, a
code without control characters), the 32-bit stocks ``regularStock`` and ``gradedStock`` (both required: an
entry without its stock says nothing about it), and, when given, ``bsku`` (a code) and ``title`` (free text,
which loses control characters but tab and newline, with a warning). An entry that fails is refused with an
``InvalidRecord`` naming the EAN and the field and kept apart (``InventoryRows.rejected``; the load holds it
in the quarantine) while the rest lands. An EAN listed twice (a list that shifted while it was paged) keeps
its last entry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bolsync.runs import values
from bolsync.runs.quarantine import InvalidRecord, Rejected, partition, record_key

log = logging.getLogger(__name__)

#: Warehouse column -> pandas dtype of one entry's row (without retailer_id).
INVENTORY_DTYPES: dict[str, str] = {
    "ean": "string",
    "bsku": "string",
    "title": "string",
    "regular_stock": "Int64",
    "graded_stock": "Int64",
}
#: Warehouse column -> bol's field, and the check of its value.
FIELDS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "ean": ("ean", lambda value: values.code(value, required=True)),
    "bsku": ("bsku", values.code),
    "title": ("title", values.text),
    "regular_stock": ("regularStock", lambda value: values.integer(value, required=True)),
    "graded_stock": ("gradedStock", lambda value: values.integer(value, required=True)),
}
#: Control characters free text may not hold (tab and newline it may).
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class InventoryRows:
    """The list's usable entries (``frame``: one row per EAN) and the entries refused (``rejected``)."""

    frame: pd.DataFrame
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def listed(self) -> int:
        """The EANs the list names (the refused entries included)."""
        return len(self.frame) + len(self.rejected)

    @property
    def keys_complete(self) -> bool:
        """Whether every entry names a usable EAN (else the list cannot tell which EANs are gone)."""
        return all(record.keyed for record in self.rejected)

    @property
    def held_keys(self) -> set[str]:
        """The EANs of the refused entries (listed all the same)."""
        return {record.key for record in self.rejected if record.keyed}


def check_entry(entry: Mapping[str, Any]) -> None:
    """Raise ``InvalidRecord`` naming the EAN and the field when ``bol.inventory`` cannot hold the entry."""
    for column, (name, check) in FIELDS.items():
        try:
            check(entry.get(name))
        except values.ValueProblem as problem:
            ean = entry.get("ean")
            shown = values.shown(ean) if record_key(ean) else "without a usable EAN"
            raise InvalidRecord(f"bol's FBB inventory entry {shown}: {name} {problem}", key=ean, field=column) from None


def inventory_rows(entries: Iterable[Mapping[str, Any]]) -> InventoryRows:
    """The rows of the list's entries (see the module docstring)."""
    last: dict[str, Mapping[str, Any]] = {}
    unkeyed: list[Mapping[str, Any]] = []
    for entry in entries:
        key = record_key(entry.get("ean"))
        if key is None:
            unkeyed.append(entry)
        else:
            last.pop(key, None)
            last[key] = entry
    good, rejected = partition([*last.values(), *unkeyed], check_entry)
    records = [
        {
            "ean": str(entry["ean"]),
            "bsku": None if entry.get("bsku") in (None, "") else str(entry["bsku"]),
            "title": _clean_title(entry.get("title"), str(entry["ean"])),
            "regular_stock": entry["regularStock"],
            "graded_stock": entry["gradedStock"],
        }
        for entry in good
    ]
    frame = pd.DataFrame.from_records(records, columns=list(INVENTORY_DTYPES)).astype(INVENTORY_DTYPES)
    return InventoryRows(frame, rejected)


def _clean_title(value: Any, ean: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    cleaned = _CONTROL_IN_TEXT.sub("", text)
    if cleaned != text:
        log.warning("Removed control characters (tab and newline kept) from the title of EAN %s bol sent.", ean)
    return cleaned
