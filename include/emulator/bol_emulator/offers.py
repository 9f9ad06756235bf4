"""The offer model and its seeded generation: one offer per catalogue product, plus new ones later."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from bol_emulator.generator import Product, catalogue, seeded_uuid
from bol_emulator.model import money

CONDITIONS = [("NEW", 88), ("AS_NEW", 5), ("GOOD", 4), ("REASONABLE", 2), ("MODERATE", 1)]
CONDITION_COMMENTS = [
    "Doos beschadigd, product onbeschadigd",
    'Licht gebruikt; "zo goed als nieuw"',
    "Kleine kras op de zijkant",
    "Emballage abîmé, produit intact",
]
DELIVERY_CODES = [
    ("24uurs-23", 8),
    ("24uurs-21", 20),
    ("24uurs-16", 5),
    ("1-2d", 25),
    ("2-3d", 15),
    ("3-5d", 8),
    ("4-8d", 5),
    ("1-8d", 4),
    ("VVB", 10),
]
DAY = 24 * 3600


@dataclass
class Offer:
    """One offer of a retailer; ``seq`` is its creation order (the position a v11 cursor refers to)."""

    seq: int
    offer_id: str
    ean: str
    title: str
    bol_product_id: str
    reference: str | None
    condition: str  # v10 condition name: NEW, AS_NEW, GOOD, REASONABLE, MODERATE
    condition_comment: str | None
    bundle_prices: list[tuple[int, Decimal]]
    stock: int
    reserved: int  # units in open orders: correctedStock = stock - reserved
    managed_by_retailer: bool
    on_hold: bool
    fulfilment_method: str
    delivery_code: str | None  # None for FBB
    economic_operator_id: str | None
    created_at: datetime
    last_modified_at: datetime
    countries: list[str] = field(default_factory=lambda: ["NL", "BE"])

    @property
    def condition_category(self) -> str:
        return "NEW" if self.condition == "NEW" else "SECONDHAND"

    @property
    def price(self) -> Decimal:
        """The unit price for one piece (the first bundle price)."""
        return self.bundle_prices[0][1]

    @property
    def corrected_stock(self) -> int:
        return max(0, self.stock - self.reserved)

    @property
    def for_sale(self) -> bool:
        """Visible on bol: not on hold, stock left (FBR) and an economic operator (required since 2025-02)."""
        in_stock = self.fulfilment_method == "FBB" or self.corrected_stock > 0
        return not self.on_hold and in_stock and self.economic_operator_id is not None


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def bundle_prices(rng: random.Random, price: Decimal) -> list[tuple[int, Decimal]]:
    """The unit price, sometimes with a cheaper unit price from 3 or more pieces."""
    if rng.random() < 0.1:
        return [(1, price), (3, money(price * Decimal("0.95")))]
    return [(1, price)]


def make_offer(rng: random.Random, seq: int, product: Product, created_at: datetime, modified_at: datetime) -> Offer:
    """An offer for ``product`` with seeded stock, condition, fulfilment and economic operator."""
    condition = _weighted(rng, CONDITIONS)
    method = "FBR" if rng.random() < 0.75 else "FBB"
    stock = 0 if method == "FBB" else rng.choice([0, rng.randint(1, 5), rng.randint(5, 120)])
    return Offer(
        seq=seq,
        offer_id=product.offer_id,
        ean=product.ean,
        title=product.title,
        bol_product_id=f"9200000{rng.randrange(10**9):09d}",
        reference=product.reference,
        condition=condition,
        condition_comment=rng.choice(CONDITION_COMMENTS) if condition != "NEW" else None,
        bundle_prices=bundle_prices(rng, product.price),
        stock=stock,
        reserved=min(stock, rng.choice([0, 0, 0, 1, 2])),
        managed_by_retailer=rng.random() < 0.3,
        on_hold=rng.random() < 0.08,
        fulfilment_method=method,
        delivery_code=_weighted(rng, DELIVERY_CODES) if method == "FBR" else None,
        economic_operator_id=seeded_uuid(rng) if rng.random() < 0.9 else None,
        created_at=created_at,
        last_modified_at=modified_at,
        countries=["NL", "BE"] if rng.random() < 0.85 else ["NL"],
    )


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment between ``start`` and ``end`` with whole milliseconds."""
    span_ms = max(0, int((end - start).total_seconds() * 1000))
    return start + timedelta(milliseconds=rng.randint(0, span_ms))


def initial_offers(rng: random.Random, products: list[Product], now: datetime) -> list[Offer]:
    """One offer per catalogue product, created 90-400 days ago and last changed since (often recently)."""
    created = sorted(_moment(rng, now - timedelta(days=400), now - timedelta(days=90)) for _ in products)
    offers = []
    for seq, (product, created_at) in enumerate(zip(products, created, strict=True), start=1):
        recent = rng.random() < 0.6
        start = now - timedelta(days=30) if recent else created_at
        offers.append(make_offer(rng, seq, product, created_at, _moment(rng, max(start, created_at), now)))
    return offers


def new_product(rng: random.Random, taken: set[str]) -> Product:
    """A catalogue product whose EAN is not in ``taken``."""
    while True:
        product = catalogue(rng, size=1)[0]
        if product.ean not in taken:
            return product


def sale_price(rng: random.Random, offer: Offer) -> list[tuple[int, Decimal]]:
    """The bundle prices after a random price change of 5-15 % up or down."""
    factor = Decimal(str(round(rng.uniform(0.85, 1.15), 3)))
    price = max(Decimal("1.00"), money(offer.price * factor))
    return [(1, price)] + [(q, money(price * Decimal("0.95"))) for q, _ in offer.bundle_prices[1:]]
