"""Order-list paging faults: a page answering the orders of the page before it (a cache or pagination bug)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

PAGE_FAULT_KINDS = ("repeat_page",)
ALWAYS = "always"


@dataclass
class RepeatPage:
    """Requests for ``page`` of the order list (any filter) answer page ``page - 1``'s orders, the next ``count``
    times (None: always)."""

    page: int = 2
    count: int | None = 1
    client_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "repeat_page", **asdict(self), "count": ALWAYS if self.count is None else self.count}


def _parse(raw: dict[str, Any], client_id: str | None) -> RepeatPage:
    page = raw.get("page", 2)
    if isinstance(page, bool) or not isinstance(page, int) or page < 2:
        raise ValueError("page must be an integer >= 2 (the page that answers the one before it)")
    count = raw.get("count", 1)
    if count == ALWAYS:
        return RepeatPage(page, None, client_id)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an integer >= 1 or {ALWAYS!r}")
    return RepeatPage(page, count, client_id)


class PageFaults:
    """The active paging faults; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.repeats: list[RepeatPage] = []

    def add(self, raw: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        """Validate and store one fault; ValueError if malformed."""
        rule = _parse(raw, client_id)
        with self.lock:
            self.repeats.append(rule)
        return rule.as_dict()

    def served_page(self, client_id: str, page: int) -> int:
        """The page whose orders answer a request for ``page`` (consumes one use of a matching rule)."""
        with self.lock:
            for rule in self.repeats:
                if rule.page != page or rule.client_id not in (None, client_id):
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.repeats.remove(rule)
                return page - 1
        return page

    def clear(self) -> None:
        with self.lock:
            self.repeats.clear()

    def snapshot(self) -> dict[str, Any]:
        """The active rules, only while any is set."""
        with self.lock:
            rules = [rule.as_dict() for rule in self.repeats]
        return {"page_faults": rules} if rules else {}
