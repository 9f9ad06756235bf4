"""World changes of offers: ``new_offers``, ``change_offers`` and ``delete_offers``."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bol_emulator.model import money
from bol_emulator.offers import DELIVERY_CODES, Offer, make_offer, new_product, sale_price

OFFER_ACTIONS = ("new_offers", "change_offers", "delete_offers")
CODES = tuple(code for code, _ in DELIVERY_CODES)


def _check(changes: dict[str, Any]) -> None:
    """ValueError unless every requested change is well-formed."""
    checks = {
        "stock": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "reserved": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "price": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 1 <= v <= 9999,
        "on_hold": lambda v: isinstance(v, bool),
        "reference": lambda v: v is None or (isinstance(v, str) and len(v) <= 100),
        "fulfilment_method": lambda v: v in ("FBR", "FBB"),
        "delivery_code": lambda v: v in CODES,
        "economic_operator_id": lambda v: v is None or (isinstance(v, str) and v != ""),
    }
    for key, value in changes.items():
        if key not in checks:
            raise ValueError(f"unknown offer change {key!r}; expected some of {', '.join(checks)}")
        if not checks[key](value):
            raise ValueError(f"invalid value for {key}: {value!r}")


def _change(offer: Offer, changes: dict[str, Any], rng: random.Random) -> None:
    if not changes:  # a typical update: new stock and a new price
        offer.stock = 0 if offer.fulfilment_method == "FBB" else rng.randint(0, 60)
        offer.reserved = min(offer.reserved, offer.stock)
        offer.bundle_prices = sale_price(rng, offer)
        return
    if "price" in changes:
        price = money(Decimal(str(changes["price"])))
        offer.bundle_prices = [(1, price)] + [(q, money(price * Decimal("0.95"))) for q, _ in offer.bundle_prices[1:]]
    if "fulfilment_method" in changes:
        offer.fulfilment_method = changes["fulfilment_method"]
        offer.delivery_code = None if offer.fulfilment_method == "FBB" else (offer.delivery_code or "1-2d")
    if "delivery_code" in changes:
        offer.delivery_code = changes["delivery_code"]
    for key, attr in (("stock", "stock"), ("reserved", "reserved"), ("on_hold", "on_hold")):
        if key in changes:
            setattr(offer, attr, changes[key])
    for key in ("reference", "economic_operator_id"):
        if key in changes:
            setattr(offer, key, changes[key])


def _targets(offers: dict[str, Offer], count: int, offer_ids: Iterable[str] | None) -> list[Offer]:
    """The given offers, else the ``count`` least recently modified ones."""
    if offer_ids is not None:
        unknown = [offer_id for offer_id in offer_ids if offer_id not in offers]
        if unknown:
            raise ValueError(f"unknown offer {unknown[0]!r}")
        return [offers[offer_id] for offer_id in dict.fromkeys(offer_ids)]
    return sorted(offers.values(), key=lambda o: (o.last_modified_at, o.seq))[:count]


def apply(
    offers: dict[str, Offer],
    rng: random.Random,
    next_seq: int,
    taken_eans: set[str],
    action: str,
    count: int,
    offer_ids: Iterable[str] | None,
    changes: dict[str, Any],
    now: datetime,
) -> list[str]:
    """Apply one offer action to ``offers`` (changed in place); returns the affected offer ids."""
    if action == "new_offers":
        created = []
        for index in range(count):
            product = new_product(rng, taken_eans)
            taken_eans.add(product.ean)
            offer = make_offer(rng, next_seq + index, product, now, now)
            offers[offer.offer_id] = offer
            created.append(offer.offer_id)
        return created
    targets = _targets(offers, count, offer_ids)
    if action == "delete_offers":
        for offer in targets:
            del offers[offer.offer_id]
        return [offer.offer_id for offer in targets]
    _check(changes)
    if "delivery_code" in changes:
        method = changes.get("fulfilment_method")
        if any((method or offer.fulfilment_method) == "FBB" for offer in targets):
            raise ValueError("FBB offers have no delivery_code")
    for offer in targets:
        _change(offer, changes, rng)
        offer.last_modified_at = max(now, offer.last_modified_at + timedelta(milliseconds=1))
    return [offer.offer_id for offer in targets]
