"""FBB inventory: the stock bol holds per EAN, which moves every day (sales, replenishments, grading).

Each EAN's stock is a seeded walk over Amsterdam days: on every day after the last known one, the day's own
rng (seed, retailer, EAN, date) sells some units, sometimes replenishes and sometimes grades a unit. Reading
the stock on a later day advances the walk, so the same seed and anchor give the same stock on the same day.
``change_stock`` sets the values for today; the walk continues from them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from bol_emulator.business_ids import BusinessIds
from bol_emulator.generator import Product

#: Below this many regular units the stock counts as INSUFFICIENT (the emulator's rule; bol does not publish
#: its own).
SUFFICIENT_FROM = 10


@dataclass
class StockItem:
    """One EAN at bol's warehouse, as of ``day`` (Amsterdam)."""

    ean: str
    bsku: str
    title: str
    regular: int
    graded: int
    day: date
    walk_key: str

    def advance(self, today: date) -> None:
        """Walk day by day up to ``today``."""
        while self.day < today:
            self.day += timedelta(days=1)
            rng = random.Random(f"{self.walk_key}:{self.day.isoformat()}")
            self.regular = max(0, self.regular - rng.choice([0, 0, 1, 1, 2, 3, 5]))
            if rng.random() < 0.12 or (self.regular == 0 and rng.random() < 0.3):
                self.regular += rng.randint(20, 120)
            if self.regular and rng.random() < 0.05:
                self.regular -= 1
                self.graded += 1
            elif self.graded and rng.random() < 0.1:
                self.graded -= 1

    @property
    def sufficient(self) -> bool:
        return self.regular >= SUFFICIENT_FROM


def initial_stock(
    rng: random.Random, ids: BusinessIds, products: list[Product], walk_prefix: str, today: date
) -> dict[str, StockItem]:
    """Stock for every FBB product (ordered by EAN): mostly some regular units, rarely graded ones, a few empty."""
    stock = {}
    for product in sorted(products, key=lambda p: p.ean):
        regular = rng.choice([0, rng.randint(1, 9), rng.randint(10, 80), rng.randint(40, 250)])
        graded = rng.choice([0, 0, 0, 0, 1, rng.randint(1, 6)])
        stock[product.ean] = StockItem(
            product.ean, ids.make(rng, "295", 10), product.title, regular, graded, today, f"{walk_prefix}:{product.ean}"
        )
    return stock
