"""Offer faults: export outcomes, export file layouts and defects, empty v11 pages, short full lists, and offer
values replaced.

A ``short_list`` fault cuts the next full lists short, the way a partial export or a v11 page that lost its
``nextCursor`` would: the next ``count`` (default 1) export files served, and v11 list pages of requests without
a ``last-modified-date-time`` filter, after ``skip`` (default 0) that pass, list only the first ``keep`` (default
1) offers, and such a v11 page names no next page.
"""

from __future__ import annotations

import base64
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

OFFER_FAULT_KINDS = ("export_outcome", "csv_columns", "export_file", "v11_empty_pages", "short_list", "offer_value")
OUTCOMES = ("FAILURE", "TIMEOUT")
ORDERS = ("reversed", "shuffled")
EXTRA_VALUE = "extra"
#: What an ``export_file`` fault does to the next served files.
DEFECTS = ("header_only", "short_row", "content_length")
#: Export columns an ``offer_value`` fault may replace -> the field path in a v11 OfferResponse.
VALUE_FIELDS: dict[str, tuple[str, ...]] = {
    "offerId": ("offerId",),
    "ean": ("ean",),
    "referenceCode": ("reference",),
    "conditionComment": ("condition", "comment"),
}
#: A cursor before the first offer (the position a first page starts from).
START_CURSOR = base64.b64encode(b'{"id":0,"created":"1970-01-01T00:00:00.000Z"}').decode("ascii")


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


@dataclass
class ValueOverride:
    """``value`` served in ``column`` of one offer (``offer_id``, or the first offer) in exports and v11."""

    column: str
    value: str
    offer_id: str | None = None
    client_id: str | None = None


def replace_csv_values(rows: list[dict[str, str]], overrides: list[ValueOverride]) -> list[dict[str, str]]:
    """Export rows (by column name, creation order) with the overridden values; the input is not changed."""
    if not rows or not overrides:
        return rows
    first = rows[0]["offerId"]
    changed = []
    for row in rows:
        mine = [o for o in overrides if row["offerId"] == (o.offer_id or first)]
        changed.append({**row, **{o.column: o.value for o in mine}} if mine else row)
    return changed


def replace_v11_values(bodies: list[dict[str, Any]], first: str | None, overrides: list[ValueOverride]) -> None:
    """Put the overridden values into v11 OfferResponses (``first``: the account's first offer id), in place."""
    for body in bodies:
        original = body["offerId"]
        for override in overrides:
            if original != (override.offer_id or first):
                continue
            *parents, last = VALUE_FIELDS[override.column]
            node = body
            for name in parents:
                node = node.setdefault(name, {})
            node[last] = override.value


def _names(raw: dict[str, Any], key: str, default: list[str]) -> list[str]:
    value = raw.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings")
    return value


def _count(raw: dict[str, Any], key: str = "count", default: int = 1, low: int = 1) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}")
    return value


def _take(rules: list[dict[str, Any]], client_id: str) -> dict[str, Any] | None:
    """Consume one use of the first rule for ``client_id`` (its ``skip`` first lets requests pass)."""
    for rule in rules:
        if rule["client_id"] not in (None, client_id):
            continue
        if rule.get("skip", 0) > 0:
            rule["skip"] -= 1
            return None
        rule["count"] -= 1
        if rule["count"] <= 0:
            rules.remove(rule)
        return dict(rule)
    return None


class OfferFaults:
    """Every offer fault; thread-safe. Outcomes, file defects and empty pages are consumed per request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.outcomes: list[dict[str, Any]] = []
            self.layouts: dict[str | None, ColumnLayout] = {}
            self.defects: list[dict[str, Any]] = []
            self.empty_pages: list[dict[str, Any]] = []
            self.short_lists: list[dict[str, Any]] = []
            self.values: list[ValueOverride] = []

    def add(self, raw: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        """Validate and store one fault; ValueError if malformed."""
        kind = raw.get("kind")
        if kind == "export_outcome":
            status = raw.get("status", "FAILURE")
            if status not in OUTCOMES:
                raise ValueError(f"status must be one of {', '.join(OUTCOMES)}")
            return self._rule(self.outcomes, {"kind": kind, "status": status, "count": _count(raw)}, client_id)
        if kind == "export_file":
            if raw.get("defect") not in DEFECTS:
                raise ValueError(f"defect must be one of {', '.join(DEFECTS)}")
            return self._rule(self.defects, {"kind": kind, "defect": raw["defect"], "count": _count(raw)}, client_id)
        if kind == "v11_empty_pages":
            rule = {"kind": kind, "count": _count(raw), "skip": _count(raw, "skip", 0, 0)}
            rule["next_cursor"] = bool(raw.get("next_cursor", True))
            return self._rule(self.empty_pages, rule, client_id)
        if kind == "short_list":
            rule = {
                "kind": kind,
                "keep": _count(raw, "keep", 1, 0),
                "count": _count(raw),
                "skip": _count(raw, "skip", 0, 0),
            }
            return self._rule(self.short_lists, rule, client_id)
        if kind == "offer_value":
            return self._value(raw, client_id)
        return self._layout(raw, client_id)

    def _rule(self, rules: list[dict[str, Any]], rule: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        rule["client_id"] = client_id
        with self.lock:
            rules.append(rule)
        return dict(rule)

    def _value(self, raw: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        column, value, offer_id = raw.get("field"), raw.get("value"), raw.get("offer_id")
        if column not in VALUE_FIELDS:
            raise ValueError(f"field must be one of {', '.join(VALUE_FIELDS)}")
        if not isinstance(value, str) or (offer_id is not None and not isinstance(offer_id, str)):
            raise ValueError("value (and offer_id, if given) must be strings")
        override = ValueOverride(column, value, offer_id, client_id)
        with self.lock:
            self.values.append(override)
        return {"kind": "offer_value", **asdict(override)}

    def _layout(self, raw: dict[str, Any], client_id: str | None) -> dict[str, Any]:
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
            rule = _take(self.outcomes, client_id)
        return str(rule["status"]) if rule else None

    def take_defect(self, client_id: str) -> str | None:
        """The defect of the next export file served to ``client_id``, if a rule matches (consumes it)."""
        with self.lock:
            rule = _take(self.defects, client_id)
        return str(rule["defect"]) if rule else None

    def take_empty_page(self, client_id: str, cursor: str | None) -> dict[str, Any] | None:
        """The empty body of the next v11 list page of ``client_id``, if a rule matches (consumes it).

        With ``next_cursor`` the page still names a next page: the position this request started from.
        """
        with self.lock:
            rule = _take(self.empty_pages, client_id)
        if rule is None:
            return None
        return {"offers": [], "next_cursor": (cursor or START_CURSOR) if rule["next_cursor"] else None}

    def take_short_list(self, client_id: str) -> int | None:
        """How many offers the next full list answer to ``client_id`` keeps, if a rule matches (consumes it)."""
        with self.lock:
            rule = _take(self.short_lists, client_id)
        return int(rule["keep"]) if rule else None

    def layout(self, client_id: str) -> ColumnLayout | None:
        with self.lock:
            return self.layouts.get(client_id, self.layouts.get(None))

    def overrides(self, client_id: str) -> list[ValueOverride]:
        with self.lock:
            return [v for v in self.values if v.client_id in (None, client_id)]

    def snapshot(self) -> dict[str, Any]:
        """The active faults; file defects, empty pages, short lists and replaced values only while any is set."""
        with self.lock:
            listed = {
                "export_outcomes": [dict(rule) for rule in self.outcomes],
                "csv_columns": [{"kind": "csv_columns", **asdict(layout)} for layout in self.layouts.values()],
            }
            defects = [dict(rule) for rule in self.defects + self.empty_pages + self.short_lists]
            defects += [{"kind": "offer_value", **asdict(value)} for value in self.values]
        return {**listed, "offer_defects": defects} if defects else listed
