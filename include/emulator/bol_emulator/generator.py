"""Seeded, realistic order data: customers, products, multi-item orders and their life so far."""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bol_emulator.model import AMSTERDAM, Discount, Order, OrderItem, money

FIRST_NAMES: list[tuple[str, str]] = [
    ("Zoë", "FEMALE"),
    ("Gérard", "MALE"),
    ("Anouk", "FEMALE"),
    ("Daan", "MALE"),
    ("Sofie", "FEMALE"),
    ("Joël", "MALE"),
    ("Maëlle", "FEMALE"),
    ("Bram", "MALE"),
    ("Chloé", "FEMALE"),
    ("Thijs", "MALE"),
    ("Noor", "FEMALE"),
    ("Ruben", "MALE"),
    ("Inès", "FEMALE"),
    ("Søren", "MALE"),
    ("Fenna", "FEMALE"),
    ("Kai", "UNKNOWN"),
    ("Emre", "MALE"),
    ("Lotte", "FEMALE"),
    ("Jürgen", "MALE"),
    ("Aïcha", "FEMALE"),
]
SURNAMES = [
    "Müller",
    "de Vries",
    "Jansen",
    "van den Berg",
    "Dijkstra",
    "Peeters",
    "Janssens",
    "Lefèvre",
    "Öztürk",
    "Bakker",
    "van Ĳzendoorn",
    "Smit",
    "de Bruijn",
    "Maes",
    "Claes",
    "Çelik",
    "Hoekstra",
    "Vermeulen",
    "Dubois",
    "van 't Hof",
]
NL_PLACES = [
    ("Ĳsselstein", "Benschopperstraat"),
    ("Utrecht", "Oudegracht"),
    ("Amsterdam", "Prinsengracht"),
    ("'s-Hertogenbosch", "Vughterstraat"),
    ("Groningen", "Herestraat"),
    ("Zwolle", "Diezerstraat"),
    ("Den Haag", "Laan van Meerdervoort"),
    ("Eindhoven", "Stratumseind"),
    ("Leeuwarden", "Nieuwestad"),
    ("Roermond", "Steenweg"),
    ("Ede", "Molenstraat"),
    ("Súdwest-Fryslân", "Marktstraat"),
]
BE_PLACES = [
    ("Liège", "Rue Saint-Gilles", "fr-BE"),
    ("Gent", "Veldstraat", "nl-BE"),
    ("Antwerpen", "Meir", "nl-BE"),
    ("Bruxelles", "Rue Neuve", "fr-BE"),
    ("Leuven", "Bondgenotenlaan", "nl-BE"),
]
PICKUP_POINTS = ["Albert Heijn", "PostNL-punt Primera", "Bruna", "DHL ServicePoint Jumbo", "bpost-punt"]
BRANDS = [
    "Philips",
    "Tefal",
    "LEGO",
    "Brabantia",
    "Bosch",
    "Sony",
    "Hema",
    "Rituals",
    "Ravensburger",
    "Fjällräven",
]
PRODUCTS: list[tuple[str, float, float]] = [
    ("Koffiezetapparaat - 1,25 l", 29.99, 119.99),
    ("Waterkoker 1,7 l", 19.99, 59.99),
    ("Puzzel 1000 stukjes - Kinderdijk", 12.99, 24.99),
    ("Rugzak Kånken 16 l", 69.95, 109.95),
    ("Crème brûlée set (4 stuks)", 14.99, 34.99),
    ("Draadloze oordopjes", 39.99, 199.99),
    ("Accuboormachine 18 V", 59.99, 189.99),
    ("Pedaalemmer 30 l - Matt Black", 39.99, 89.99),
    ("Geurkaars Ōkura", 9.95, 29.95),
    ("Bouwset Creator 3-in-1", 19.99, 149.99),
    ("Strijkijzer stoom", 24.99, 79.99),
    ("Koptelefoon noise cancelling", 79.99, 349.99),
]
VARIANTS = ["", "", " - zwart", " - wit", " - grijs", " XL", " - édition limitée", " 2-pack"]
DISCOUNT_TITLES = ["Actie: 2e halve prijs", "Kortingscode WELKOM10", "Select-voordeel", "Black Friday déal"]
TIME_FRAMES = [("REGULAR", 85), ("EVENING", 6), ("SUNDAY", 3), ("SAMEDAY", 2), ("APPOINTMENT", 4)]
HOUR = 3600


@dataclass(frozen=True)
class Product:
    """An offer in the retailer's catalogue."""

    ean: str
    title: str
    price: Decimal
    commission_rate: Decimal
    offer_id: str
    reference: str | None


def ean13(rng: random.Random) -> str:
    """A 13-digit EAN with a valid check digit."""
    body = rng.choice(["87", "54", "40", "50"]) + f"{rng.randrange(10**10):010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (so it is reproducible)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def catalogue(rng: random.Random, size: int = 60) -> list[Product]:
    """A reproducible product catalogue with distinct EANs."""
    products: dict[str, Product] = {}
    while len(products) < size:
        kind, low, high = rng.choice(PRODUCTS)
        ean = ean13(rng)
        products[ean] = Product(
            ean=ean,
            title=f"{rng.choice(BRANDS)} {kind}{rng.choice(VARIANTS)}",
            price=money(rng.uniform(low, high)),
            commission_rate=money(rng.uniform(0.05, 0.17)),
            offer_id=seeded_uuid(rng),
            reference=f"REF-{rng.randint(10000, 99999)}" if rng.random() < 0.85 else None,
        )
    return list(products.values())


class IdSource:
    """Hands out order ids and order item ids that are unique across all accounts."""

    def __init__(self) -> None:
        self.order_ids: set[str] = set()
        self.item_ids: set[str] = set()

    def order_id(self, rng: random.Random) -> str:
        while True:
            if rng.random() < 0.5:
                candidate = f"1{rng.randrange(10**9):09d}"
            else:
                alphabet = string.ascii_uppercase + string.digits
                candidate = rng.choice("ABC") + "".join(rng.choices(alphabet, k=9))
            if candidate not in self.order_ids:
                self.order_ids.add(candidate)
                return candidate

    def item_id(self, rng: random.Random) -> str:
        while True:
            candidate = rng.choice("26") + f"{rng.randrange(10**9):09d}"
            if candidate not in self.item_ids:
                self.item_ids.add(candidate)
                return candidate


def scrambled_email(rng: random.Random) -> str:
    """An address like bol's relay addresses (``…@verkopen.bol.com``)."""
    local = "".join(rng.choices(string.ascii_lowercase + string.digits, k=30))
    return f"{local}@verkopen.bol.com"


def _address(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.8:
        city, street = rng.choice(NL_PLACES)
        letters = rng.choice(["AB", "CD", "EK", "GH", "JL", "PR", "TV", "XZ"])
        return {
            "streetName": street,
            "houseNumber": str(rng.randint(1, 250)),
            "zipCode": f"{rng.randint(1000, 9999)}{letters}",
            "city": city,
            "countryCode": "NL",
            "language": "nl",
        }
    city, street, language = rng.choice(BE_PLACES)
    return {
        "streetName": street,
        "houseNumber": str(rng.randint(1, 180)),
        "zipCode": str(rng.randint(1000, 9999)),
        "city": city,
        "countryCode": "BE",
        "language": language,
    }


def _person(rng: random.Random) -> dict[str, Any]:
    first, salutation = rng.choice(FIRST_NAMES)
    details: dict[str, Any] = {"salutation": salutation, "firstName": first, "surname": rng.choice(SURNAMES)}
    details.update(_address(rng))
    if rng.random() < 0.12:
        details["houseNumberExtension"] = rng.choice(["A", "B", "bis", "-2", "hs"])
    if rng.random() < 0.05:
        details["extraAddressInformation"] = rng.choice(["Achterom", "Bel bij de buren", "Appartement 3"])
    details["email"] = scrambled_email(rng)
    return details


def customer_details(rng: random.Random, needs_phone: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
    """``(pickupPoint, shipmentDetails, billingDetails)`` for one order."""
    shipment = _person(rng)
    language = shipment.pop("language")
    billing = dict(shipment) if rng.random() < 0.88 else _person(rng)
    billing.pop("language", None)
    billing["email"] = scrambled_email(rng)
    shipment["language"] = language
    pickup = rng.random() < 0.06
    if pickup:
        shipment["pickupPointName"] = f"{rng.choice(PICKUP_POINTS)}: {shipment['city'].upper()}"
    if needs_phone or rng.random() < 0.15:
        shipment["deliveryPhoneNumber"] = f"06{rng.randrange(10**8):08d}"
    if rng.random() < 0.08:
        company = f"{billing['surname']} {rng.choice(['B.V.', 'Webshop', 'Advies', 'en Zn.'])}"
        shipment["company"] = billing["company"] = company
        billing["vatNumber"] = f"NL{rng.randint(100000000, 999999999)}B0{rng.randint(1, 9)}"
        billing["kvkNumber"] = str(rng.randint(10000000, 99999999))
    if rng.random() < 0.1:
        billing["orderReference"] = rng.choice(["Mijn order ref", "Cadeau Sinterklaas", "Bestelling 4711"])
    return pickup, shipment, billing


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def new_item(rng: random.Random, ids: IdSource, product: Product, placed_at: datetime) -> OrderItem:
    """An open order item placed at ``placed_at``; its life is simulated separately."""
    quantity = rng.choices([1, 2, 3, 4], weights=[70, 18, 8, 4])[0]
    method = "FBR" if rng.random() < 0.7 else "FBB"
    party = "BOL" if method == "FBB" or rng.random() < 0.15 else "RETAILER"
    time_frame = _weighted(rng, TIME_FRAMES)
    placed_day = placed_at.astimezone(AMSTERDAM).date()
    delivery = placed_day + timedelta(days=rng.randint(1, 3))
    discounts = []
    if rng.random() < 0.12:
        amount = money(product.price * quantity * Decimal(str(round(rng.uniform(0.05, 0.25), 2))))
        discounts.append(Discount(rng.choice(DISCOUNT_TITLES), amount))
    gross = product.price * quantity - sum((d.amount for d in discounts), Decimal(0))
    return OrderItem(
        order_item_id=ids.item_id(rng),
        ean=product.ean,
        title=product.title,
        offer_id=product.offer_id,
        offer_reference=product.reference,
        quantity=quantity,
        fulfilment_method=method,
        distribution_party=party,
        delivery_date=delivery,
        exact_delivery=time_frame in ("APPOINTMENT", "SAMEDAY") or rng.random() < 0.05,
        expiry_date=delivery + timedelta(days=rng.randint(2, 7)),
        time_frame_type=time_frame,
        unit_price=product.price,
        commission=money(gross * product.commission_rate + Decimal("0.99") * quantity),
        latest_changed_at=placed_at,
        discounts=discounts,
        additional_services=["PLACEMENT_AND_INSTALLATION"] if rng.random() < 0.02 else [],
    )


def new_order(rng: random.Random, ids: IdSource, products: list[Product], placed_at: datetime) -> Order:
    """A new order of 1-3 open items (different products) placed at ``placed_at``."""
    count = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
    items = [new_item(rng, ids, product, placed_at) for product in rng.sample(products, count)]
    needs_phone = any(item.time_frame_type == "APPOINTMENT" for item in items)
    pickup, shipment, billing = customer_details(rng, needs_phone)
    return Order(ids.order_id(rng), placed_at, pickup, shipment, billing, items)


def _after(rng: random.Random, start: datetime, now: datetime, low_s: int, high_s: int) -> datetime:
    """A moment between ``start + low_s`` and ``start + high_s``, never after ``now``."""
    span = max(0, min(high_s, int((now - start).total_seconds())) - low_s)
    return min(now, start + timedelta(seconds=low_s + rng.randint(0, span)))


def simulate_history(rng: random.Random, item: OrderItem, placed_at: datetime, now: datetime) -> None:
    """Give an item placed in the past a plausible state: shipped, cancelled, partial or still open."""
    age_h = (now - placed_at).total_seconds() / HOUR
    roll = rng.random()
    if item.fulfilment_method == "FBB":
        handled_share = 0.0 if age_h < 3 else min(0.98, age_h / 24)
    else:
        handled_share = min(0.97, age_h / 48)
    if roll < handled_share:
        outcome = rng.random()
        if outcome < 0.86:
            item.quantity_shipped = item.quantity
        elif outcome < 0.94 or item.quantity == 1:
            item.quantity_cancelled = item.quantity
            item.cancellation_request = rng.random() < 0.6
        else:
            item.quantity_shipped = rng.randint(1, item.quantity - 1)
            item.quantity_cancelled = item.quantity - item.quantity_shipped
        item.latest_changed_at = _after(rng, placed_at, now, 300, 72 * HOUR)
        return
    outcome = rng.random()
    if item.quantity >= 2 and outcome < 0.2:
        item.quantity_shipped = rng.randint(1, item.quantity - 1)
        item.latest_changed_at = _after(rng, placed_at, now, 600, 48 * HOUR)
    elif outcome < 0.28:
        item.cancellation_request = True
        item.latest_changed_at = _after(rng, placed_at, now, 60, 24 * HOUR)


def history(
    rng: random.Random,
    ids: IdSource,
    products: list[Product],
    now: datetime,
    per_day: int,
    days: int,
    day_weights: tuple[float, ...] = (),
) -> list[Order]:
    """``per_day * days`` orders placed over the last ``days`` days, each item with a simulated life.

    Uniformly, or with ``day_weights`` (most recent day first, repeated) as each day's relative volume.
    """
    span = days * 24 * HOUR
    if day_weights and (min(day_weights) < 0 or not sum(day_weights)):
        raise ValueError("day_weights must be numbers >= 0, not all 0")
    weights = [day_weights[n % len(day_weights)] for n in range(days)] if day_weights else []
    orders = []
    for _ in range(per_day * days):
        if weights:
            day = rng.choices(range(days), weights=weights)[0]
            placed_at = now - timedelta(seconds=day * 24 * HOUR + rng.randint(0, 24 * HOUR - 1))
        else:
            placed_at = now - timedelta(seconds=rng.randint(0, span))
        order = new_order(rng, ids, products, placed_at)
        for item in order.items:
            simulate_history(rng, item, placed_at, now)
        orders.append(order)
    return orders
