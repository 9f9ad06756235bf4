"""Query parameter checks of the list endpoints, collecting bol-style violations (``{"name", "reason"}``)."""

from __future__ import annotations

import re
from datetime import date

INT_RE = re.compile(r"-?[0-9]{1,18}")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Violations(list[dict[str, str]]):
    """The violations found so far."""

    def add(self, name: str, reason: str) -> None:
        self.append({"name": name, "reason": reason})

    def invalid(self, name: str, raw: str, expected: str) -> None:
        self.add(name, f"Request contains invalid value(s): '{raw}', {expected}.")


def page(params: dict[str, str], bad: Violations) -> int:
    """The 1-based ``page`` (default 1)."""
    raw = params.get("page")
    if raw is None:
        return 1
    if not INT_RE.fullmatch(raw) or int(raw) < 1:
        bad.invalid("page", raw, "must be an integer greater than or equal to 1")
        return 1
    return int(raw)


def enum(params: dict[str, str], name: str, allowed: tuple[str, ...], bad: Violations) -> str | None:
    """The value of ``name`` if it is one of ``allowed``; None when it is missing or invalid."""
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        bad.invalid(name, raw, f"allowed values: {', '.join(allowed)}")
        return None
    return raw


def boolean(params: dict[str, str], name: str, bad: Violations) -> bool | None:
    """``true``/``false`` (any case); None when missing or invalid."""
    raw = params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        bad.invalid(name, raw, "must be a boolean")
        return None
    return raw.lower() == "true"


def iso_date(params: dict[str, str], name: str, bad: Violations) -> date | None:
    """A ``YYYY-MM-DD`` date; None when missing or invalid."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        if not DATE_RE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        bad.invalid(name, raw, "expected a date in ISO 8601 format (YYYY-MM-DD)")
        return None
