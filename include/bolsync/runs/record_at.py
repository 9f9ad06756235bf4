"""Where in one of bol's records a value sits: the transforms' checks refuse a value through it, naming the record
(and its item) in the message and keeping the stored field path for the quarantine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bolsync.runs import values
from bolsync.runs.quarantine import InvalidRecord

Check = Callable[[Any], None]


class RecordAt:
    """A place in a record of ``kind`` (e.g. ``return``) with key ``key``; ``item``: the item within it, named by
    ``item_label``; ``path``: the field path of that item in the record."""

    __slots__ = ("item", "item_label", "key", "kind", "path")

    def __init__(self, kind: str, key: Any, item: Any = None, path: str = "", *, item_label: str = "item") -> None:
        self.kind, self.key, self.item, self.path, self.item_label = kind, key, item, path, item_label

    def refuse(self, field: str, problem: str) -> InvalidRecord:
        where = f"{self.kind} {str(self.key)[:40]!r}"
        if self.item is not None:
            where += f" {self.item_label} {str(self.item)[:40]!r}"
        message = f"bol sent malformed {self.kind} data: {where}: {field} {problem}"
        return InvalidRecord(message, key=self.key, field=self.path + field)

    def check(self, check: Check, value: Any, field: str) -> None:
        try:
            check(value)
        except values.ValueProblem as problem:
            raise self.refuse(field, str(problem)) from None

    def check_all(self, checks: Sequence[tuple[str, Check]], obj: Mapping[str, Any], prefix: str = "") -> None:
        """Each ``(field, check)`` on ``obj[field]``."""
        name = ""
        try:
            for name, check in checks:
                check(obj.get(name))
        except values.ValueProblem as problem:
            raise self.refuse(prefix + name, str(problem)) from None

    def as_object(self, value: Any, field: str, *, required: bool = False) -> Mapping[str, Any]:
        """``value`` as an object (``{}`` when absent and not ``required``); anything else is refused."""
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.refuse(field, f"is {values.described(value)}, not an object")
        return value

    def as_array(self, value: Any, field: str) -> list[Any]:
        """``value`` as an array (``[]`` when absent); anything else is refused."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.refuse(field, f"is {values.described(value)}, not an array")
        return value
