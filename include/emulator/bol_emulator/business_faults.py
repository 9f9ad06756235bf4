"""Faults for the business streams: a body cut off mid-transfer, and invoices whose specification misbehaves.

* ``cut_body`` (any path, consumed per request): the real answer, but only the first ``keep`` share of its
  body is sent while ``Content-Length`` announces all of it, so the client sees the connection close early.
* ``invoice_unbalanced`` (until cleared): the specification (JSON and xlsx) serves the first line's amount
  ``amount`` higher, so the lines no longer add up to the invoice's totals.
* ``invoice_specification`` (until cleared): ``mode`` ``xlsx_only`` lists only the xlsx specification and
  answers a JSON request with 406; ``missing`` lists none and answers every request with 404.

* ``short_inventory`` (until cleared): the FBB inventory list (every filter and page of it) shows only the first
  ``keep`` EANs (by EAN; default 0: an empty list), consistently, the way an account that lost the others, or a
  list bol cut short at its source, looks.

The invoice faults apply to ``invoice_id`` (every invoice when it is left out) of ``client_id`` (any client); the
other faults to ``client_id`` (any client when it is left out).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from bol_emulator.problems import Response

BUSINESS_FAULT_KINDS = ("cut_body", "invoice_unbalanced", "invoice_specification", "short_inventory")
SPECIFICATION_MODES = ("xlsx_only", "missing")


@dataclass
class BodyCut:
    count: int
    keep: float
    client_id: str | None
    path_prefix: str | None


@dataclass
class ShortInventory:
    keep: int
    client_id: str | None


@dataclass
class InvoiceFault:
    kind: str
    client_id: str | None
    invoice_id: str | None
    amount: str = "0"
    mode: str = ""

    def matches(self, client_id: str, invoice_id: str) -> bool:
        return self.client_id in (None, client_id) and self.invoice_id in (None, invoice_id)


def _count(raw: dict[str, Any]) -> int:
    value = raw.get("count", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("count must be an integer >= 1")
    return value


def _number(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    return float(value)


def _invoice_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("invoice_id")
    if value is not None and not isinstance(value, str):
        raise ValueError("invoice_id must be a string")
    return value


class BusinessFaults:
    """The active business faults; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.cuts: list[BodyCut] = []
            self.invoices: list[InvoiceFault] = []
            self.short_inventories: list[ShortInventory] = []

    def add(self, raw: dict[str, Any], client_id: str | None, path_prefix: str | None) -> dict[str, Any]:
        """Validate and store one fault; ValueError if malformed."""
        kind = raw.get("kind")
        if kind == "cut_body":
            keep = _number(raw, "keep", 0.5)
            if not 0 <= keep < 1:
                raise ValueError("keep must be a number from 0 up to (not including) 1: the share of the body sent")
            cut = BodyCut(_count(raw), keep, client_id, path_prefix)
            with self.lock:
                self.cuts.append(cut)
            return {"kind": kind, **asdict(cut)}
        if kind == "short_inventory":
            keep = raw.get("keep", 0)
            if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
                raise ValueError("keep must be an integer >= 0: how many EANs the inventory list still shows")
            short = ShortInventory(keep, client_id)
            with self.lock:
                self.short_inventories.append(short)
            return {"kind": kind, **asdict(short)}
        fault = InvoiceFault(str(kind), client_id, _invoice_id(raw))
        if kind == "invoice_unbalanced":
            amount = _number(raw, "amount", 0.05)
            if amount == 0:
                raise ValueError("amount must not be 0")
            fault.amount = str(Decimal(str(amount)).quantize(Decimal("0.01")))
        else:
            fault.mode = str(raw.get("mode", "xlsx_only"))
            if fault.mode not in SPECIFICATION_MODES:
                raise ValueError(f"mode must be one of {', '.join(SPECIFICATION_MODES)}")
        with self.lock:
            self.invoices.append(fault)
        return asdict(fault)

    def cut(self, client_id: str | None, path: str, response: Response) -> Response:
        """``response`` with its body cut if a ``cut_body`` rule matches (one use consumed)."""
        if response.drop or not response.body:
            return response
        with self.lock:
            rule = next(
                (
                    c
                    for c in self.cuts
                    if c.client_id in (None, client_id) and (c.path_prefix is None or path.startswith(c.path_prefix))
                ),
                None,
            )
            if rule is None:
                return response
            rule.count -= 1
            if rule.count <= 0:
                self.cuts.remove(rule)
        kept = response.body[: int(len(response.body) * rule.keep)]
        return Response(response.status, kept, {**response.headers, "Content-Length": str(len(response.body))})

    def shift(self, client_id: str, invoice_id: str) -> Decimal:
        """How much higher the first specification line of the invoice is served."""
        with self.lock:
            return sum(
                (
                    Decimal(f.amount)
                    for f in self.invoices
                    if f.kind == "invoice_unbalanced" and f.matches(client_id, invoice_id)
                ),
                Decimal(0),
            )

    def specification_mode(self, client_id: str, invoice_id: str) -> str | None:
        """``xlsx_only``, ``missing`` or None (both media types served)."""
        with self.lock:
            modes = [
                f.mode for f in self.invoices if f.kind == "invoice_specification" and f.matches(client_id, invoice_id)
            ]
        return "missing" if "missing" in modes else (modes[0] if modes else None)

    def inventory_kept(self, client_id: str) -> int | None:
        """How many EANs the client's inventory list shows (None: all of them)."""
        with self.lock:
            kept = [s.keep for s in self.short_inventories if s.client_id in (None, client_id)]
        return min(kept) if kept else None

    def snapshot(self) -> dict[str, Any]:
        """The active faults, only while any is set."""
        with self.lock:
            faults = [{"kind": "cut_body", **asdict(c)} for c in self.cuts] + [asdict(f) for f in self.invoices]
            faults += [{"kind": "short_inventory", **asdict(s)} for s in self.short_inventories]
        return {"business_faults": faults} if faults else {}
