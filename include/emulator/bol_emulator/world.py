"""The emulator's live state: every account's orders, queried and changed under one lock."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from bol_emulator import offer_actions, payloads
from bol_emulator.business import Business
from bol_emulator.clock import WorldClock
from bol_emulator.config import AccountConfig, EmulatorConfig
from bol_emulator.generator import IdSource, Product, catalogue, history, new_order
from bol_emulator.model import AMSTERDAM, Order, OrderItem
from bol_emulator.offers import Offer, initial_offers

WORLD_ACTIONS = ("new_orders", "ship", "cancel", "cancellation_request", *offer_actions.OFFER_ACTIONS)
HANDLED_VISIBLE = timedelta(hours=48)
T = TypeVar("T")


@dataclass(frozen=True)
class OrderFilter:
    """The validated filters of ``GET /retailer/orders``."""

    fulfilment_method: str = "FBR"
    status: str = "OPEN"
    latest_change_date: date | None = None
    change_interval_minute: int | None = None
    vvb_only: bool = False


@dataclass
class AccountState:
    """One account's configuration, catalogue and orders."""

    config: AccountConfig
    products: list[Product]
    orders: dict[str, Order]
    rng: random.Random
    items: dict[str, tuple[Order, OrderItem]] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    offer_rng: random.Random = field(default_factory=random.Random)
    offer_seq: int = 0

    def index(self, order: Order) -> None:
        self.orders[order.order_id] = order
        for item in order.items:
            self.items[item.order_item_id] = (order, item)

    def newest_first(self) -> list[Order]:
        return sorted(self.orders.values(), key=lambda o: (-o.placed_at.timestamp(), o.order_id))


def _matches(item: OrderItem, flt: OrderFilter, now: datetime) -> bool:
    if flt.fulfilment_method != "ALL" and item.fulfilment_method != flt.fulfilment_method:
        return False
    if flt.vvb_only and not item.is_vvb:
        return False
    if flt.status == "OPEN" and item.fulfilment_status != "OPEN":
        return False
    if flt.status == "SHIPPED" and not (item.fulfilment_status == "HANDLED" and item.quantity_shipped > 0):
        return False
    if flt.latest_change_date is not None:
        return item.latest_changed_at.astimezone(AMSTERDAM).date() == flt.latest_change_date
    if flt.change_interval_minute is not None:
        return item.latest_changed_at >= now - timedelta(minutes=flt.change_interval_minute)
    return item.fulfilment_status == "OPEN" or item.latest_changed_at >= now - HANDLED_VISIBLE


def account_seed(seed: int, retailer_id: str) -> int | str:
    """``seed + retailer id`` for numeric retailer ids (bol's are), else a string seed."""
    return seed + int(retailer_id) if retailer_id.isdigit() else f"{seed}:{retailer_id}"


class World:
    """All accounts' data, generated from ``seed + retailer id``; thread-safe."""

    def __init__(self, config: EmulatorConfig, clock: WorldClock | None = None) -> None:
        """Generate every account's history up to the clock's anchor (default: ``config.anchor``, else now)."""
        self.clock = clock or WorldClock(config.anchor)
        self.lock = threading.RLock()
        self.ids = IdSource()
        self.generated_at = self.clock.anchor
        self.accounts: dict[str, AccountState] = {}
        for account in config.accounts:
            rng = random.Random(account_seed(config.seed, account.retailer_id))
            products = catalogue(rng)
            per_day = account.orders_per_day if account.orders_per_day is not None else config.orders_per_day
            live_rng = random.Random(f"{config.seed}:{account.retailer_id}:live")
            state = AccountState(account, products, {}, live_rng)
            orders = history(
                rng, self.ids, products, self.generated_at, per_day, config.history_days, config.day_weights
            )
            for order in orders:
                state.index(order)
            state.offer_rng = random.Random(f"{config.seed}:{account.retailer_id}:offers")
            offers = initial_offers(state.offer_rng, products, self.generated_at)
            state.offers = {offer.offer_id: offer for offer in offers}
            state.offer_seq = len(offers)
            self.accounts[account.client_id] = state
        self.business = Business(self, config.seed, config.history_days)

    def account(self, client_id: str) -> AccountState:
        """The account of ``client_id``; KeyError if unknown."""
        return self.accounts[client_id]

    def with_offers(self, client_id: str, read: Callable[[list[Offer]], T]) -> T:
        """``read(offers)`` under the lock, offers in creation order (``read`` must not keep them)."""
        with self.lock:
            return read(sorted(self.account(client_id).offers.values(), key=lambda o: (o.created_at, o.seq)))

    def apply_offers(
        self, client_id: str, action: str, count: int, offer_ids: Iterable[str] | None, changes: dict[str, Any]
    ) -> dict[str, list[str]]:
        """``new_offers``, ``change_offers`` or ``delete_offers`` now; returns the affected ``offer_ids``."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self.lock:
            state = self.account(client_id)
            taken = {offer.ean for offer in state.offers.values()} | {p.ean for p in state.products}
            now = self.clock.now_ms()
            ids = offer_actions.apply(
                state.offers, state.offer_rng, state.offer_seq + 1, taken, action, count, offer_ids, changes, now
            )
            if action == "new_offers":
                state.offer_seq += len(ids)
            return {"offer_ids": ids}

    def order_page(self, client_id: str, flt: OrderFilter, page: int, size: int) -> list[dict[str, Any]]:
        """Page ``page`` (1-based) of the ReducedOrders matching ``flt``: newest order first, then order id,
        each listing only its matching items; empty past the end."""
        with self.lock:
            now = self.clock.now()
            skip = (page - 1) * size
            result: list[dict[str, Any]] = []
            for order in self.account(client_id).newest_first():
                items = [item for item in order.items if _matches(item, flt, now)]
                if not items:
                    continue
                if skip:
                    skip -= 1
                    continue
                result.append(payloads.reduced_order(order, items))
                if len(result) == size:
                    break
            return result

    def order_detail(self, client_id: str, order_id: str) -> dict[str, Any] | None:
        """The full Order of this account, or None."""
        with self.lock:
            order = self.account(client_id).orders.get(order_id)
            return payloads.order(order) if order else None

    def ground_truth(self, client_id: str) -> list[dict[str, Any]]:
        """Every order item of the account with its current state (oldest order first)."""
        with self.lock:
            state = self.account(client_id)
            rows: list[dict[str, Any]] = []
            for order in reversed(state.newest_first()):
                rows.extend(payloads.truth_row(state.config.retailer_id, order, item) for item in order.items)
            return rows

    def touch(self, client_id: str, order_item_id: str, when: datetime) -> None:
        """Set an item's latestChangedDateTime (for tests of date boundaries)."""
        with self.lock:
            order, item = self.account(client_id).items[order_item_id]
            if when < order.placed_at:
                order.placed_at = when
            item.latest_changed_at = when.replace(microsecond=0)

    def apply(
        self,
        client_id: str,
        action: str,
        count: int = 1,
        order_item_ids: Iterable[str] | None = None,
        fulfilment_method: str | None = None,
    ) -> dict[str, list[str]]:
        """Change the world now; returns the affected ``order_item_ids`` and ``order_ids``."""
        if action not in WORLD_ACTIONS:
            raise ValueError(f"unknown action {action!r}; expected one of {', '.join(WORLD_ACTIONS)}")
        if action in offer_actions.OFFER_ACTIONS:
            raise ValueError(f"{action} is an offer action (World.apply_offers)")
        if count < 0:
            raise ValueError("count must be >= 0")
        with self.lock:
            state = self.account(client_id)
            now = self.clock.now()
            if action == "new_orders":
                orders = [new_order(state.rng, self.ids, state.products, now) for _ in range(count)]
                for order in orders:
                    state.index(order)
                return {
                    "order_item_ids": [item.order_item_id for order in orders for item in order.items],
                    "order_ids": [order.order_id for order in orders],
                }
            targets = self._targets(state, action, count, order_item_ids, fulfilment_method)
            units_before = {item.order_item_id: item.quantity_shipped for _, item in targets}
            for _, item in targets:
                if action == "ship":
                    item.quantity_shipped += item.remaining
                elif action == "cancel":
                    item.quantity_cancelled += item.remaining
                else:
                    item.cancellation_request = True
                item.latest_changed_at = max(now, item.latest_changed_at)
            if action == "ship":
                shipped = [(o, i, i.quantity_shipped - units_before[i.order_item_id]) for o, i in targets]
                self.business.shipped(client_id, shipped, now)
            return {
                "order_item_ids": [item.order_item_id for _, item in targets],
                "order_ids": list(dict.fromkeys(order.order_id for order, _ in targets)),
            }

    @staticmethod
    def _targets(
        state: AccountState,
        action: str,
        count: int,
        order_item_ids: Iterable[str] | None,
        fulfilment_method: str | None,
    ) -> list[tuple[Order, OrderItem]]:
        """The open items an action applies to: the given ids, else the ``count`` oldest eligible ones."""
        if order_item_ids is not None:
            chosen = []
            for item_id in order_item_ids:
                if item_id not in state.items:
                    raise ValueError(f"unknown order item {item_id!r}")
                order, item = state.items[item_id]
                if item.fulfilment_status != "OPEN":
                    raise ValueError(f"order item {item_id} is not open")
                chosen.append((order, item))
            return chosen
        eligible = []
        for order in reversed(state.newest_first()):
            for item in order.items:
                if item.fulfilment_status != "OPEN":
                    continue
                if fulfilment_method and item.fulfilment_method != fulfilment_method:
                    continue
                if action == "cancellation_request" and item.cancellation_request:
                    continue
                eligible.append((order, item))
        return eligible[:count]
