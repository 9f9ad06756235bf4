"""Every account's returns, shipments, FBB stock and invoices, generated from its orders and kept in step.

Generated from ``seed + retailer id`` (an rng of its own, so the orders and offers stay as they were) and the
world's anchor: the history's shipments carry exactly the units its order items shipped, about 9 % of shipped
order items come back (plus a few returns of orders older than the history), and every half month up to the
anchor has its invoice. Later world changes add to it: ``ship`` makes a shipment, returns and invoices follow
the control actions of :mod:`bol_emulator.business_actions`. Reads and changes hold the world's lock.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from bol_emulator.business_ids import BusinessIds
from bol_emulator.generator import IdSource, Product
from bol_emulator.inventory import StockItem, initial_stock
from bol_emulator.invoices import (
    Charge,
    Invoice,
    issue,
    local_day,
    period_of,
    processing_charges,
    return_label_charge,
    shipment_charges,
    start_of,
)
from bol_emulator.model import Order, OrderItem
from bol_emulator.returns import (
    Return,
    ReturnItem,
    customer_of,
    foreign_return_plan,
    handle_item,
    history_return_plan,
    make_item,
    simulated_handling,
)
from bol_emulator.shipments import Shipment, history_shipments, make_shipment

if TYPE_CHECKING:
    from bol_emulator.world import AccountState, World

T = TypeVar("T")


@dataclass
class BusinessState:
    """One account's shipments, returns, stock, charges and invoices."""

    retailer_id: str
    rng: random.Random
    key: str
    shipments: dict[str, Shipment] = field(default_factory=dict)
    returns: dict[str, Return] = field(default_factory=dict)
    rmas: dict[str, tuple[Return, ReturnItem]] = field(default_factory=dict)
    returned: Counter[str] = field(default_factory=Counter)
    stock: dict[str, StockItem] = field(default_factory=dict)
    pick_pack: dict[str, Decimal] = field(default_factory=dict)
    charges: list[Charge] = field(default_factory=list)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    invoiced_until: date = date.min

    def add_shipment(self, shipment: Shipment) -> Shipment:
        self.shipments[shipment.shipment_id] = shipment
        self.charges.extend(shipment_charges(shipment, self.pick_pack))
        return shipment

    def add_return(self, value: Return) -> Return:
        self.returns[value.return_id] = value
        for item in value.items:
            self.rmas[item.rma_id] = (value, item)
            if item.item is not None:
                self.returned[item.item.order_item_id] += item.expected_quantity
            self.charges.extend(return_label_charge(item, value))
        return value

    def process(self, item: ReturnItem, handling_result: str, quantity: int, at: datetime) -> None:
        result = handle_item(item, handling_result, quantity, at)
        self.charges.extend(processing_charges(item, result))

    def issue_periods(self, ids: BusinessIds, now: datetime) -> None:
        """Issue the invoice of every half month that ended before ``now`` and has none yet."""
        while True:
            start = self.invoiced_until + timedelta(days=1)
            period = period_of(start)
            issued_at = start_of(period[1] + timedelta(days=1))
            if issued_at > now:
                return
            rng = random.Random(f"{self.key}:invoice:{period[0].isoformat()}")
            invoice = issue(rng, ids, self.charges, period, period[1] + timedelta(days=1), issued_at, self.stock)
            if invoice is not None:
                self.invoices[invoice.invoice_id] = invoice
            self.invoiced_until = period[1]

    def issue_now(self, ids: BusinessIds, now: datetime) -> Invoice:
        """An invoice of everything not invoiced yet, issued today; ValueError if there is nothing."""
        today = local_day(now)
        rng = random.Random(f"{self.key}:invoice:{today.isoformat()}:{len(self.invoices)}")
        invoice = issue(rng, ids, self.charges, (period_of(today)[0], today), today, now + timedelta(seconds=1), {})
        if invoice is None:
            raise ValueError("nothing to invoice: every charge is invoiced already")
        self.invoices[invoice.invoice_id] = invoice
        return invoice

    def advance(self, now: datetime, ids: BusinessIds) -> None:
        """Bring time-driven state up to ``now``: the day's stock and the invoices of ended periods."""
        today = local_day(now)
        for item in self.stock.values():
            item.advance(today)
        self.issue_periods(ids, now)


def pick_pack_rate(product: Product) -> Decimal:
    """bol's pick & pack fee by price band (excluding VAT)."""
    if product.price < 20:
        return Decimal("1.45")
    return Decimal("2.10") if product.price < 75 else Decimal("2.95")


def split_by_method(parts: list[tuple[OrderItem, int]]) -> list[list[tuple[OrderItem, int]]]:
    groups: dict[str, list[tuple[OrderItem, int]]] = {}
    for item, units in parts:
        groups.setdefault(item.fulfilment_method, []).append((item, units))
    return list(groups.values())


def generate(
    seed: int, account: AccountState, world_ids: IdSource, ids: BusinessIds, now: datetime, days: int
) -> BusinessState:
    """The history of one account up to ``now``."""
    retailer_id = account.config.retailer_id
    key = f"{seed}:{retailer_id}:business"
    state = BusinessState(retailer_id, random.Random(key), key)
    rng = state.rng
    state.pick_pack = {product.ean: pick_pack_rate(product) for product in account.products}
    orders = list(account.orders.values())
    first_shipped: dict[str, datetime] = {}
    for shipment in history_shipments(rng, ids, orders, now):
        state.add_shipment(shipment)
        for part in shipment.items:
            first_shipped.setdefault(part.item.order_item_id, shipment.shipped_at)
    for order, parts, registered in history_return_plan(rng, orders, first_shipped, now):
        for group in split_by_method(parts):
            simulate(state, rng, record_return(state, rng, ids, order, group, registered), now)
    for product, units, method, registered in foreign_return_plan(
        rng, account.products, max(2, len(orders) // 100), now, days
    ):
        order_id = world_ids.order_id(rng)
        item = make_item(rng, ids, order_id, product.ean, product.title, units, customer_of(None, rng), method)
        item.unit_price = float(product.price)
        value = state.add_return(Return(ids.make(rng, "", 8), registered, method, [item]))
        simulate(state, rng, value, now)
    fbb_eans = {i.ean for o in orders for i in o.items if i.fulfilment_method == "FBB"}
    fbb_eans |= {offer.ean for offer in account.offers.values() if offer.fulfilment_method == "FBB"}
    fbb = [product for product in account.products if product.ean in fbb_eans]
    state.stock = initial_stock(rng, ids, fbb, f"{seed}:{retailer_id}:stock", local_day(now))
    earliest = min((charge.at for charge in state.charges), default=now)
    state.invoiced_until = period_of(local_day(earliest))[0] - timedelta(days=1)
    state.issue_periods(ids, now)
    return state


def simulate(state: BusinessState, rng: random.Random, value: Return, now: datetime) -> None:
    """Process the items of a history return as far as ``now`` allows."""
    for item in value.items:
        for handling, units, at in simulated_handling(rng, item, value.registered_at, now, value.fulfilment_method):
            state.process(item, handling, units, at)


def record_return(
    state: BusinessState,
    rng: random.Random,
    ids: BusinessIds,
    order: Order,
    parts: list[tuple[OrderItem, int]],
    registered: datetime,
    reason: tuple[str, str | None, str] | None = None,
) -> Return:
    """A new return of ``parts`` (order item, units) of one order and one fulfilment method."""
    customer = customer_of(order, rng)
    method = parts[0][0].fulfilment_method
    items = []
    for item, units in parts:
        entry = make_item(rng, ids, order.order_id, item.ean, item.title, units, customer, method, reason)
        entry.item = item
        items.append(entry)
    return state.add_return(Return(ids.make(rng, "", 8), registered, method, items))


class Business:
    """The business states of all accounts of a world."""

    def __init__(self, world: World, seed: int, history_days: int) -> None:
        self.world = world
        self.ids = BusinessIds()
        now = world.clock.anchor
        self.states = {
            client_id: generate(seed, account, world.ids, self.ids, now, history_days)
            for client_id, account in world.accounts.items()
        }

    def state(self, client_id: str) -> BusinessState:
        """The state of ``client_id``; KeyError if unknown."""
        return self.states[client_id]

    def read(self, client_id: str, read: Callable[[BusinessState, datetime], T]) -> T:
        """``read(state, now)`` under the world's lock, after bringing time-driven state up to now."""
        with self.world.lock:
            now = self.world.clock.now()
            state = self.states[client_id]
            state.advance(now, self.ids)
            return read(state, now)

    def shipped(self, client_id: str, parts: list[tuple[Order, OrderItem, int]], now: datetime) -> list[Shipment]:
        """Shipments for units just shipped: one per order and fulfilment method (caller holds the lock)."""
        state = self.states[client_id]
        by_order: dict[str, tuple[Order, list[tuple[OrderItem, int]]]] = {}
        for order, item, units in parts:
            if units > 0:
                by_order.setdefault(order.order_id, (order, []))[1].append((item, units))
        made = []
        for order, items in by_order.values():
            for group in split_by_method(items):
                made.append(state.add_shipment(make_shipment(state.rng, self.ids, order, group, now, now)))
        return made
