"""World changes of the business streams, through ``POST /_emulator/world`` (``{"client_id", "action", ...}``).

=================== ======================================================================================
action              body (besides ``client_id`` and ``action``) and what happens now
=================== ======================================================================================
``ship_item``       ``order_item_id``, ``quantity`` (default: all open units), ``transporter_code``,
                    ``shipment_reference``: ships units of one open order item in a new shipment
``register_return`` ``order_item_id`` and ``quantity`` (default 1), or ``count`` (default 1) returns of one
                    unit of the oldest shipped, not yet returned items; ``main_reason``, ``detailed_reason``,
                    ``customer_comments`` optional: a new unhandled return per item
``handle_return``   ``rma_id``, or ``count`` (default 1) oldest unhandled items; ``handling_result`` (default
                    ``RETURN_RECEIVED``), ``quantity`` (default: all units not processed yet)
``transport_event`` ``shipment_id``, or ``count`` (default 1) oldest shipments whose journey goes on;
                    ``event_code`` (default: the journey's next one)
``change_stock``    ``ean``, ``regular_stock`` and/or ``graded_stock``: today's FBB stock of that EAN
``issue_invoice``   nothing: an invoice of every charge not invoiced yet, issued today
=================== ======================================================================================

Each answers the ids it touched; malformed input raises ValueError (400).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bol_emulator.business import BusinessState, record_return
from bol_emulator.model import Order, OrderItem
from bol_emulator.returns import REASONS, ReturnItem, returnable
from bol_emulator.shipments import advance as advance_transport
from bol_emulator.shipments import make_shipment

if TYPE_CHECKING:
    from bol_emulator.world import World

BUSINESS_ACTIONS = ("ship_item", "register_return", "handle_return", "transport_event", "change_stock", "issue_invoice")


def _int(body: dict[str, Any], key: str, default: int | None, low: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}")
    return value


def _str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def apply(world: World, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply one business action for ``client_id`` now."""
    with world.lock:
        now = world.clock.now()
        business = world.business
        state = business.state(client_id)
        state.advance(now, business.ids)
        action = body["action"]
        if action == "ship_item":
            return ship_item(world, client_id, state, body, now)
        if action == "register_return":
            return register_return(world, client_id, state, body, world.clock.now_ms())
        if action == "handle_return":
            return handle_return(state, body, now)
        if action == "transport_event":
            return transport_event(state, body, now)
        if action == "change_stock":
            return change_stock(state, body)
        return {"invoice_ids": [state.issue_now(business.ids, now).invoice_id]}


def _item(world: World, client_id: str, body: dict[str, Any]) -> tuple[Order, OrderItem]:
    item_id = _str(body, "order_item_id")
    if item_id is None:
        raise ValueError("order_item_id is required: an order item id of this account (see its order-items truth)")
    items = world.account(client_id).items
    if item_id not in items:
        raise ValueError(f"unknown order item {item_id!r}")
    return items[item_id]


def ship_item(
    world: World, client_id: str, state: BusinessState, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    order, item = _item(world, client_id, body)
    units = _int(body, "quantity", item.remaining, 1)
    if units is None or units > item.remaining:
        raise ValueError(f"order item {item.order_item_id} has {item.remaining} units left to ship")
    item.quantity_shipped += units
    item.latest_changed_at = max(now, item.latest_changed_at)
    reference, transporter = _str(body, "shipment_reference"), _str(body, "transporter_code")
    shipment = make_shipment(state.rng, world.business.ids, order, [(item, units)], now, now, reference, transporter)
    state.add_shipment(shipment)
    return {"shipment_ids": [shipment.shipment_id], "order_item_ids": [item.order_item_id]}


def _reason(body: dict[str, Any]) -> tuple[str, str | None, str] | None:
    main, detailed, comments = _str(body, "main_reason"), _str(body, "detailed_reason"), _str(body, "customer_comments")
    if main is None:
        if detailed is not None or comments is not None:
            raise ValueError("detailed_reason and customer_comments need a main_reason")
        return None
    if main not in REASONS:
        raise ValueError(f"main_reason must be one of {', '.join(REASONS)}")
    if detailed is not None and detailed not in REASONS[main]:
        raise ValueError(f"detailed_reason of {main!r} must be one of {', '.join(REASONS[main]) or 'none'}")
    return main, detailed, comments or ""


def register_return(
    world: World, client_id: str, state: BusinessState, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    reason = _reason(body)
    if body.get("order_item_id") is not None:
        order, item = _item(world, client_id, body)
        units = _int(body, "quantity", 1, 1) or 1
        left = returnable(item, state.returned[item.order_item_id])
        if units > left:
            raise ValueError(f"order item {item.order_item_id} has {left} shipped units that are not returned yet")
        chosen = [(order, item, units)]
    else:
        count = _int(body, "count", 1, 0) or 0
        orders = sorted(world.account(client_id).orders.values(), key=lambda o: (o.placed_at, o.order_id))
        chosen = [
            (order, item, 1)
            for order in orders
            for item in order.items
            if returnable(item, state.returned[item.order_item_id]) > 0
        ][:count]
    made = [
        record_return(state, state.rng, world.business.ids, order, [(item, units)], now, reason)
        for order, item, units in chosen
    ]
    return {"return_ids": [r.return_id for r in made], "rma_ids": [i.rma_id for r in made for i in r.items]}


def handle_return(state: BusinessState, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    rma_id = _str(body, "rma_id")
    if rma_id is not None:
        if rma_id not in state.rmas:
            raise ValueError(f"unknown rma_id {rma_id!r}")
        targets: list[ReturnItem] = [state.rmas[rma_id][1]]
    else:
        count = _int(body, "count", 1, 0) or 0
        waiting = sorted(
            (r for r in state.returns.values() if not r.handled), key=lambda r: (r.registered_at, r.return_id)
        )
        targets = [item for r in waiting for item in r.items if not item.handled][:count]
    handling = _str(body, "handling_result") or "RETURN_RECEIVED"
    for item in targets:
        left = item.expected_quantity - item.processed_quantity
        units = _int(body, "quantity", None, 1)
        state.process(item, handling, left if units is None else units, now)
    return {
        "rma_ids": [item.rma_id for item in targets],
        "return_ids": list(dict.fromkeys(state.rmas[item.rma_id][0].return_id for item in targets)),
    }


def transport_event(state: BusinessState, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    shipment_id, code = _str(body, "shipment_id"), _str(body, "event_code")
    if shipment_id is not None:
        if shipment_id not in state.shipments:
            raise ValueError(f"unknown shipment_id {shipment_id!r}")
        targets = [state.shipments[shipment_id]]
    else:
        count = _int(body, "count", 1, 0) or 0
        ongoing = sorted(
            (s for s in state.shipments.values() if s.transport.pending), key=lambda s: (s.shipped_at, s.shipment_id)
        )
        targets = ongoing[:count]
    events = []
    for shipment in targets:
        event = advance_transport(shipment.transport, code, now)
        events.append({"shipment_id": shipment.shipment_id, "event_code": event.code, "event_at": event.at.isoformat()})
    return {"shipment_ids": [s.shipment_id for s in targets], "events": events}


def change_stock(state: BusinessState, body: dict[str, Any]) -> dict[str, Any]:
    ean = _str(body, "ean")
    if ean not in state.stock:
        raise ValueError(f"unknown FBB ean {ean!r}; the inventory truth lists the EANs")
    regular, graded = _int(body, "regular_stock", None, 0), _int(body, "graded_stock", None, 0)
    if regular is None and graded is None:
        raise ValueError("give regular_stock and/or graded_stock")
    item = state.stock[ean]
    item.regular = item.regular if regular is None else regular
    item.graded = item.graded if graded is None else graded
    return {"eans": [ean]}
