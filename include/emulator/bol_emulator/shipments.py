"""Shipments: the parcels that carried the orders' shipped units, with their transport and delivery events.

Every unit an order item reports as shipped (``quantityShipped``) is in exactly one shipment: the seeded history
ships each order's shipped items per fulfilment method in one parcel, and every later ``ship`` adds one. The
transport events of the history run up to the world's anchor; later ones only come through ``transport_event``
(so that nothing changes while a test compares).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bol_emulator.business_ids import BusinessIds
from bol_emulator.model import Order, OrderItem

#: Transporters of parcels sent with a bol label (VVB) and of retailer-chosen ones: (code, weight).
BOL_LABEL_TRANSPORTERS = [("TNT", 70), ("DHL", 30)]
RETAILER_TRANSPORTERS = [("TNT", 40), ("DHL", 15), ("DPD-NL", 10), ("GLS", 6), ("DHLFORYOU", 8), ("UPS", 3)]
BELGIAN_TRANSPORTERS = [("BPOST_BE", 60), ("DPD-BE", 25), ("TNT", 15)]
FBB_TRANSPORTERS = [("TNT", 75), ("DHL", 25)]
#: Letter post: no track and trace and no transport events.
LETTER_POST = "BRIEFPOST"
EVENT_CODES = (
    "PRE_ANNOUNCED",
    "AT_TRANSPORTER",
    "IN_TRANSIT",
    "DELIVERED_AT_NEIGHBOURS",
    "DELIVERED_AT_CUSTOMER",
    "PICKED_UP_AT_PICK_UP_POINT",
    "AT_PICK_UP_POINT",
    "RETURNED_TO_SENDER",
    "INBOUND_COLLECT",
)
HOUR = 3600


@dataclass
class TransportEvent:
    """One step of the parcel's journey."""

    code: str
    at: datetime


@dataclass
class Transport:
    """The parcel's carrier; ``pending`` holds the codes its journey has not reached yet."""

    transport_id: str
    transporter_code: str
    track_and_trace: str | None
    shipping_label_id: str | None
    events: list[TransportEvent] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


@dataclass
class ShipmentItem:
    """Units of one order item in one shipment."""

    item: OrderItem
    quantity: int


@dataclass
class Shipment:
    """One parcel of one order (items of one fulfilment method)."""

    shipment_id: str
    shipped_at: datetime
    reference: str
    order: Order
    fulfilment_method: str
    items: list[ShipmentItem]
    transport: Transport

    @property
    def bol_label(self) -> bool:
        """Sent with a shipping label bought from bol (VVB), so bol invoices the label."""
        return self.transport.shipping_label_id is not None


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def track_and_trace(rng: random.Random, transporter: str) -> str:
    """A code in the transporter's usual format."""
    digits = "".join(rng.choices("0123456789", k=12))
    if transporter == "TNT":
        return "3SBOL" + digits[:10]
    if transporter.startswith("DHL"):
        return "JVGL0" + digits + "0"
    if transporter.startswith("BPOST"):
        return "3232" + digits + "00"
    if transporter.startswith("DPD"):
        return "0" + digits + "9"
    return "1Z" + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=16))


def journey(rng: random.Random, pickup_point: bool) -> list[tuple[str, int]]:
    """The event codes a parcel passes with their seconds after shipping."""
    moment = rng.randint(600, 2 * HOUR)
    steps = [("PRE_ANNOUNCED", moment)]
    for code, low, high in (("AT_TRANSPORTER", 2, 10), ("IN_TRANSIT", 6, 14)):
        moment += rng.randint(low * HOUR, high * HOUR)
        steps.append((code, moment))
    moment += rng.randint(4 * HOUR, 20 * HOUR)
    roll = rng.random()
    if roll < 0.01:
        steps.append(("RETURNED_TO_SENDER", moment + 3 * 24 * HOUR))
    elif pickup_point:
        steps.append(("AT_PICK_UP_POINT", moment))
        steps.append(("PICKED_UP_AT_PICK_UP_POINT", moment + rng.randint(2 * HOUR, 72 * HOUR)))
    else:
        steps.append(("DELIVERED_AT_NEIGHBOURS" if roll < 0.1 else "DELIVERED_AT_CUSTOMER", moment))
    return steps


def make_transport(
    rng: random.Random, ids: BusinessIds, order: Order, method: str, vvb: bool, shipped_at: datetime, now: datetime
) -> Transport:
    """The transport of a new parcel, its journey up to ``now`` as events and the rest pending."""
    belgian = order.shipment_details.get("countryCode") == "BE"
    if method == "FBB":
        code = _weighted(rng, FBB_TRANSPORTERS)
    elif vvb:
        code = _weighted(rng, BOL_LABEL_TRANSPORTERS)
    elif rng.random() < 0.04:
        code = LETTER_POST
    else:
        code = _weighted(rng, BELGIAN_TRANSPORTERS if belgian else RETAILER_TRANSPORTERS)
    transport = Transport(
        transport_id=ids.make(rng, "", 9),
        transporter_code=code,
        track_and_trace=None if code == LETTER_POST else track_and_trace(rng, code),
        shipping_label_id=ids.make(rng, "", 9) if vvb else None,
    )
    if code == LETTER_POST:
        return transport
    for event_code, offset in journey(rng, order.pickup_point):
        at = shipped_at + timedelta(seconds=offset)
        if at <= now:
            transport.events.append(TransportEvent(event_code, at))
        else:
            transport.pending.append(event_code)
    return transport


def make_shipment(
    rng: random.Random,
    ids: BusinessIds,
    order: Order,
    parts: list[tuple[OrderItem, int]],
    shipped_at: datetime,
    now: datetime,
    reference: str | None = None,
    transporter_code: str | None = None,
) -> Shipment:
    """A shipment of ``parts`` (order item, units) of one order and one fulfilment method."""
    method = parts[0][0].fulfilment_method
    vvb = method == "FBR" and any(item.is_vvb for item, _ in parts)
    transport = make_transport(rng, ids, order, method, vvb, shipped_at, now)
    if transporter_code is not None:
        transport.transporter_code = transporter_code
        if transporter_code == LETTER_POST:
            transport.track_and_trace, transport.events, transport.pending = None, [], []
    if reference is None:
        reference = f"ZND{rng.randrange(10**7):07d}" if method == "FBR" and rng.random() < 0.7 else ""
    return Shipment(
        shipment_id=ids.make(rng, "", 9),
        shipped_at=shipped_at,
        reference=reference,
        order=order,
        fulfilment_method=method,
        items=[ShipmentItem(item, units) for item, units in parts],
        transport=transport,
    )


def history_shipments(rng: random.Random, ids: BusinessIds, orders: list[Order], now: datetime) -> list[Shipment]:
    """Shipments of every unit the seeded history shipped: one parcel per order and fulfilment method, sent at the
    earliest latest change of its items (the moment the first of them was handled)."""
    shipments = []
    for order in sorted(orders, key=lambda o: (o.placed_at, o.order_id)):
        for method in ("FBR", "FBB"):
            parts = [
                (i, i.quantity_shipped) for i in order.items if i.fulfilment_method == method and i.quantity_shipped
            ]
            if parts:
                shipped_at = min(item.latest_changed_at for item, _ in parts)
                shipments.append(make_shipment(rng, ids, order, parts, shipped_at, now))
    return shipments


def advance(transport: Transport, code: str | None, at: datetime) -> TransportEvent:
    """Add the next event of the journey (or ``code``) at ``at``; ValueError if there is nothing to add."""
    if code is None:
        if not transport.pending:
            raise ValueError(f"transport {transport.transport_id} has no further events; give an event_code")
        code = transport.pending.pop(0)
    elif code not in EVENT_CODES:
        raise ValueError(f"event_code must be one of {', '.join(EVENT_CODES)}")
    elif code in transport.pending:
        transport.pending = transport.pending[transport.pending.index(code) + 1 :]
    latest = transport.events[-1].at if transport.events else at
    event = TransportEvent(code, max(at, latest))
    transport.events.append(event)
    return event
