"""Returns: shipped units customers send back, their reasons and how they were processed.

A return holds one or more return items (one ``rmaId`` each) of one customer. Every item returns units that
were shipped and not returned before; a few returns are of orders older than the world's history (bol keeps
returns longer than orders), so their order ids are unknown to the order list. Reasons come from the spec's
``ReturnReason`` table, handling results from its ``ReturnRequest`` enum.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bol_emulator.business_ids import BusinessIds
from bol_emulator.generator import Product, customer_details
from bol_emulator.model import Order, OrderItem

#: mainReason -> its detailedReason values (bol's ReturnReason table; empty: none).
REASONS: dict[str, list[str]] = {
    "Verkeerde maat of afmeting": [
        "Te groot",
        "Te klein",
        "Artikel werkt niet op mijn apparatuur",
        "Meerdere maten/afmetingen besteld",
        "Aanbevolen accessoire past niet",
        "Meerdere opties/artikelen besteld",
        "Pasvorm valt tegen",
        "Anders-namelijk",
    ],
    "Verkeerd besteld": [
        "Onduidelijke productinformatie",
        "Onduidelijke afbeelding",
        "Dubbel besteld",
        "Artikel had ik toch niet nodig",
        "Aanbevolen accessoire past niet",
        "Anders-namelijk",
    ],
    "Artikel werkt niet": [],
    "Klacht over artikel": [
        "Artikel is beschadigd",
        "Artikel werkt niet",
        "Artikel is incompleet",
        "Kwaliteit valt tegen",
        "Gebruiksaanwijzing onduidelijk",
        "Artikel doet niet wat het belooft",
        "Anders-namelijk",
    ],
    "Klacht over de bezorging": [
        "Artikel is te laat bezorgd",
        "Verpakking is beschadigd",
        "Artikel is beschadigd",
        "Ander artikel ontvangen dan besteld",
        "Anders-namelijk",
    ],
    "Elders goedkoper": [],
    "Ander artikel ontvangen dan besteld": [
        "Onduidelijke productinformatie",
        "Onduidelijke afbeelding",
        "Ander artikel ontvangen dan besteld",
    ],
    "Anders": [
        "Artikel cadeau ontvangen",
        "Ik heb me bedacht",
        "Artikel had ik toch niet nodig",
        "Kwaliteit valt tegen",
        "Andere kleur dan gedacht",
        "Meerdere opties/artikelen besteld",
        "Dubbel besteld",
        "Anders-namelijk",
    ],
}
REASON_WEIGHTS = [18, 14, 8, 16, 6, 4, 5, 29]
COMMENTS = [
    "Past niet in onze keuken.",
    "Doos was open bij aankomst; één onderdeel ontbreekt.",
    "Ça ne fonctionne pas avec mon appareil.",
    "Graag het geld terug, bedankt!",
    "Kleur wijkt af van de foto's.",
    "Twee keer besteld door een fout in mijn account.",
]
#: The handling results a retailer can give (``ReturnRequest.handlingResult``).
HANDLING_RESULTS = (
    "RETURN_RECEIVED",
    "EXCHANGE_PRODUCT",
    "RETURN_DOES_NOT_MEET_CONDITIONS",
    "REPAIR_PRODUCT",
    "CUSTOMER_KEEPS_PRODUCT_PAID",
    "STILL_APPROVED",
)
ACCEPTED_HANDLING = [
    ("RETURN_RECEIVED", 78),
    ("EXCHANGE_PRODUCT", 8),
    ("REPAIR_PRODUCT", 4),
    ("STILL_APPROVED", 2),
    ("CUSTOMER_KEEPS_PRODUCT_PAID", 8),
]
#: Handling results after which bol pays the customer back (and corrects turnover and commission).
REFUNDED = ("RETURN_RECEIVED", "STILL_APPROVED")
RETURN_TRANSPORTERS = [("PostNL", 70), ("DHL", 20), ("bpost", 10)]
DAY = 24 * 3600


def processing_result_of(handling_result: str) -> str:
    """bol's verdict for a handling result: only ``RETURN_DOES_NOT_MEET_CONDITIONS`` rejects."""
    return "REJECTED" if handling_result == "RETURN_DOES_NOT_MEET_CONDITIONS" else "ACCEPTED"


@dataclass
class ProcessingResult:
    """One processing of some units of a return item."""

    quantity: int
    result: str
    handling_result: str
    processed_at: datetime


@dataclass
class ReturnItem:
    """One RMA: units of one product of one order; ``item`` is the order item when the order is in the world."""

    rma_id: str
    order_id: str
    ean: str
    title: str
    expected_quantity: int
    main_reason: str
    detailed_reason: str | None
    customer_comments: str
    customer: dict[str, Any]
    item: OrderItem | None = None
    unit_price: float = 0.0
    track_and_trace: str | None = None
    transporter_name: str | None = None
    return_label: bool = False
    handled: bool = False
    results: list[ProcessingResult] = field(default_factory=list)

    @property
    def processed_quantity(self) -> int:
        return sum(result.quantity for result in self.results)


@dataclass
class Return:
    """A return of one customer, registered at one moment."""

    return_id: str
    registered_at: datetime
    fulfilment_method: str
    items: list[ReturnItem]

    @property
    def handled(self) -> bool:
        """Handled once every item is."""
        return all(item.handled for item in self.items)


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def customer_of(order: Order | None, rng: random.Random) -> dict[str, Any]:
    """The CustomerDetails of a return: the order's billing person at its shipping address, or a new person."""
    if order is not None:
        details = {k: v for k, v in order.shipment_details.items() if k not in ("language", "pickupPointName")}
        details["email"] = order.billing_details.get("email", details.get("email"))
        return details
    _, shipment, _ = customer_details(rng, False)
    return {k: v for k, v in shipment.items() if k not in ("language", "pickupPointName")}


def make_item(
    rng: random.Random,
    ids: BusinessIds,
    order_id: str,
    product_ean: str,
    title: str,
    quantity: int,
    customer: dict[str, Any],
    method: str,
    reason: tuple[str, str | None, str] | None = None,
) -> ReturnItem:
    """A new, unhandled return item of ``quantity`` units; ``reason`` is (main, detailed, comments), else drawn."""
    if reason is None:
        main = rng.choices(list(REASONS), weights=REASON_WEIGHTS)[0]
        detailed = rng.choice(REASONS[main]) if REASONS[main] else None
        comments = rng.choice(COMMENTS) if rng.random() < 0.35 or main == "Artikel werkt niet" else ""
        reason = (main, detailed, comments)
    with_label = method == "FBR" and rng.random() < 0.7
    transporter = _weighted(rng, RETURN_TRANSPORTERS) if with_label or method == "FBB" else None
    return ReturnItem(
        rma_id=ids.make(rng, "3", 7),
        order_id=order_id,
        ean=product_ean,
        title=title,
        expected_quantity=quantity,
        main_reason=reason[0],
        detailed_reason=reason[1],
        customer_comments=reason[2],
        customer=customer,
        track_and_trace=f"3SBOLR{rng.randrange(10**9):09d}" if transporter else None,
        transporter_name=transporter,
        return_label=with_label,
    )


def handle_item(item: ReturnItem, handling_result: str, quantity: int, at: datetime) -> ProcessingResult:
    """Process ``quantity`` units of ``item`` with ``handling_result``; the item is handled afterwards."""
    if handling_result not in HANDLING_RESULTS:
        raise ValueError(f"handling_result must be one of {', '.join(HANDLING_RESULTS)}")
    left = item.expected_quantity - item.processed_quantity
    if left <= 0:
        raise ValueError(f"RMA {item.rma_id} has no units left to process: all {item.expected_quantity} are processed")
    if not 1 <= quantity <= left:
        raise ValueError(f"quantity must be from 1 to {left} (the units of RMA {item.rma_id} not yet processed)")
    result = ProcessingResult(quantity, processing_result_of(handling_result), handling_result, at)
    item.results.append(result)
    item.handled = True
    return result


def simulated_handling(
    rng: random.Random, item: ReturnItem, registered_at: datetime, now: datetime, method: str
) -> list[tuple[str, int, datetime]]:
    """How the history handled an item: (handling result, units, moment) each; empty while still open."""
    days = rng.uniform(0.5, 3) if method == "FBB" else rng.uniform(1, 12)
    at = registered_at + timedelta(seconds=int(days * DAY))
    if at > now:
        return []
    roll = rng.random()
    if item.expected_quantity >= 2 and roll < 0.1:
        return [("RETURN_RECEIVED", 1, at), ("RETURN_DOES_NOT_MEET_CONDITIONS", item.expected_quantity - 1, at)]
    if roll < 0.2:
        return [("RETURN_DOES_NOT_MEET_CONDITIONS", item.expected_quantity, at)]
    return [(_weighted(rng, ACCEPTED_HANDLING), item.expected_quantity, at)]


def returnable(item: OrderItem, returned: int) -> int:
    """Units of ``item`` that can still be returned: shipped and not in an earlier return."""
    return item.quantity_shipped - returned


def history_return_plan(
    rng: random.Random, orders: list[Order], shipped_at: dict[str, datetime], now: datetime
) -> list[tuple[Order, list[tuple[OrderItem, int]], datetime]]:
    """The history's returns of known orders: (order, [(item, units)], registered at), about 9 % of shipped
    order items, registered from 6 hours up to 20 days after shipping (and at least an hour before ``now``)."""
    plan = []
    for order in sorted(orders, key=lambda o: (o.placed_at, o.order_id)):
        parts = [
            (i, rng.randint(1, i.quantity_shipped)) for i in order.items if i.quantity_shipped and rng.random() < 0.09
        ]
        if not parts:
            continue
        earliest = max(shipped_at[item.order_item_id] for item, _ in parts) + timedelta(hours=6)
        span = min(20 * DAY, int((now - timedelta(hours=1) - earliest).total_seconds()))
        if span > 0:
            plan.append(
                (order, parts, earliest + timedelta(seconds=rng.randint(0, span), milliseconds=rng.randint(0, 999)))
            )
    return plan


def foreign_return_plan(
    rng: random.Random, products: list[Product], count: int, now: datetime, days: int
) -> list[tuple[Product, int, str, datetime]]:
    """Returns of orders older than the history, registered within its ``days`` (none without a history):
    (product, units, fulfilment method, registered at)."""
    plan: list[tuple[Product, int, str, datetime]] = []
    if days * DAY <= 3600:
        return plan
    for _ in range(count):
        registered = now - timedelta(seconds=rng.randint(3600, days * DAY), milliseconds=rng.randint(0, 999))
        plan.append(
            (rng.choice(products), rng.choice([1, 1, 1, 2]), "FBB" if rng.random() < 0.3 else "FBR", registered)
        )
    return plan
