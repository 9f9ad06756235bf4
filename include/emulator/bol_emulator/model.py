"""The in-memory order model: orders, their items and the mutable counters bol exposes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CENT = Decimal("0.01")


def money(value: Decimal | float | str) -> Decimal:
    """Round to whole cents, half up."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def amsterdam_iso(moment: datetime) -> str:
    """ISO 8601 with the Europe/Amsterdam offset, e.g. ``2026-11-20T14:03:11+01:00``."""
    return moment.astimezone(AMSTERDAM).isoformat(timespec="seconds")


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with an explicit ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class Discount:
    """A promotion applied to an order item (amount incl. VAT, for all quantities)."""

    title: str
    amount: Decimal


@dataclass
class OrderItem:
    """One order line; quantity_shipped/quantity_cancelled/cancellation_request change over time."""

    order_item_id: str
    ean: str
    title: str
    offer_id: str
    offer_reference: str | None
    quantity: int
    fulfilment_method: str
    distribution_party: str
    delivery_date: date
    exact_delivery: bool
    expiry_date: date
    time_frame_type: str
    unit_price: Decimal
    commission: Decimal
    latest_changed_at: datetime
    quantity_shipped: int = 0
    quantity_cancelled: int = 0
    cancellation_request: bool = False
    discounts: list[Discount] = field(default_factory=list)
    additional_services: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Units neither shipped nor cancelled."""
        return self.quantity - self.quantity_shipped - self.quantity_cancelled

    @property
    def fulfilment_status(self) -> str:
        """HANDLED once every unit is shipped or cancelled, else OPEN."""
        return "HANDLED" if self.remaining <= 0 else "OPEN"

    @property
    def total_price(self) -> Decimal:
        """What the customer paid for all units, after discounts."""
        return money(self.unit_price * self.quantity - sum((d.amount for d in self.discounts), Decimal(0)))

    @property
    def is_vvb(self) -> bool:
        """Retailer-fulfilled but shipped via bol's logistics ("Verzenden via bol")."""
        return self.fulfilment_method == "FBR" and self.distribution_party == "BOL"


@dataclass
class Order:
    """An order with its customer details (personal data) and items."""

    order_id: str
    placed_at: datetime
    pickup_point: bool
    shipment_details: dict[str, Any]
    billing_details: dict[str, Any]
    items: list[OrderItem]
