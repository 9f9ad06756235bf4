"""Order faults: odd values in one order, a field of its list entry or full order replaced by any JSON value.

``{"kind": "order_value", "order_id": "...", "field": "orderItems.0.quantity", "value": 3000000000}`` serves
that value in the order's list entries and full order (``where``: ``list``, ``detail`` or ``both``, the
default) until the faults are cleared. ``field`` is a dotted path: names, array indexes, and ``*`` for every
element (``orderItems.*.latestChangedDateTime``); ``"remove": true`` leaves the field out instead. A path that
does not exist in a body is created (objects) or skipped (an index past the end).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass
from typing import Any

ORDER_FAULT_KINDS = ("order_value",)
WHERE = ("list", "detail", "both")
EVERY = "*"


@dataclass(frozen=True)
class OrderValue:
    """``value`` (or no value, with ``remove``) at ``field`` of order ``order_id`` in list entries and/or details."""

    order_id: str
    field: str
    value: Any = None
    remove: bool = False
    where: str = "both"
    client_id: str | None = None

    @property
    def path(self) -> list[str | int]:
        return [int(part) if part.isdigit() else part for part in self.field.split(".")]

    def applies(self, client_id: str, order_id: Any, where: str) -> bool:
        return self.client_id in (None, client_id) and str(order_id) == self.order_id and self.where in (where, "both")


def _put(node: Any, path: list[str | int], value: Any, remove: bool) -> None:
    """Set (or remove) ``path`` below ``node``, in place."""
    head, rest = path[0], path[1:]
    if isinstance(node, list):
        if head == EVERY:
            targets = list(range(len(node)))
        elif isinstance(head, int) and head < len(node):
            targets = [head]
        else:
            return
        for index in targets:
            if rest:
                _put(node[index], rest, value, remove)
            elif remove:
                node[index] = None
            else:
                node[index] = copy.deepcopy(value)
        return
    if not isinstance(node, dict):
        return
    key = str(head)
    if rest:
        _put(node.setdefault(key, {}), rest, value, remove)
    elif remove:
        node.pop(key, None)
    else:
        node[key] = copy.deepcopy(value)


class OrderFaults:
    """Every order fault; thread-safe. A value stays until the faults are cleared."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: list[OrderValue] = []

    def clear(self) -> None:
        with self.lock:
            self.values = []

    def add(self, raw: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        """Validate and store one fault; ValueError if malformed."""
        order_id, field, where = raw.get("order_id"), raw.get("field"), raw.get("where", "both")
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("order_id must be a non-empty string (the order whose values change)")
        if not isinstance(field, str) or not field or any(not part for part in field.split(".")):
            raise ValueError("field must be a dotted path such as orderItems.0.quantity")
        if where not in WHERE:
            raise ValueError(f"where must be one of {', '.join(WHERE)}")
        remove = raw.get("remove", False)
        if not isinstance(remove, bool) or (remove and "value" in raw):
            raise ValueError("remove must be true or false, and a removed field takes no value")
        if not remove and "value" not in raw:
            raise ValueError("give the value to serve (any JSON, null included), or remove: true")
        rule = OrderValue(order_id, field, raw.get("value"), remove, str(where), client_id)
        with self.lock:
            self.values.append(rule)
        return {"kind": "order_value", **asdict(rule)}

    def list_entries(self, client_id: str, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A page of ReducedOrders with the faults applied (changed entries are copies)."""
        return [self._applied(client_id, order, "list") for order in orders]

    def detail(self, client_id: str, order: dict[str, Any]) -> dict[str, Any]:
        """A full Order with the faults applied (a copy when changed)."""
        return self._applied(client_id, order, "detail")

    def _applied(self, client_id: str, order: dict[str, Any], where: str) -> dict[str, Any]:
        with self.lock:
            mine = [v for v in self.values if v.applies(client_id, order.get("orderId"), where)]
        if not mine:
            return order
        changed = copy.deepcopy(order)
        for rule in mine:
            _put(changed, rule.path, rule.value, rule.remove)
        return changed

    def snapshot(self) -> dict[str, Any]:
        """The replaced values, only while any is set."""
        with self.lock:
            listed = [{"kind": "order_value", **asdict(v)} for v in self.values]
        return {"order_values": listed} if listed else {}
