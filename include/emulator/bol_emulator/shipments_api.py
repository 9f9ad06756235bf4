"""``GET /retailer/shipments`` and ``GET /retailer/shipments/{shipment-id}``.

The list goes back 3 months (today in Amsterdam minus 3 calendar months), newest shipment first, 50 a page,
without transporter, track and trace or quantities: those are in the detail. ``fulfilment-method`` defaults to
FBR (the spec's "default fulfilment-method"); ``order-id`` lists that order's shipments of both methods and may
not be combined with ``fulfilment-method`` (400). The detail of an older shipment is still served.
"""

from __future__ import annotations

from datetime import datetime

from bol_emulator import problems, query_params
from bol_emulator.business import BusinessState
from bol_emulator.invoices import local_day
from bol_emulator.orders_api import HISTORY_MONTHS, months_before
from bol_emulator.problems import Response
from bol_emulator.shipment_payloads import reduced_shipment, shipment
from bol_emulator.world import World

PAGE_SIZE = 50
METHODS = ("FBR", "FBB")
DEFAULT_METHOD = "FBR"


def list_shipments(world: World, client_id: str, params: dict[str, str], instance: str) -> Response:
    """One page of ReducedShipments, ``{}`` past the end, or 400 with violations."""
    bad = query_params.Violations()
    page = query_params.page(params, bad)
    method = query_params.enum(params, "fulfilment-method", METHODS, bad)
    order_id = params.get("order-id")
    if order_id is not None and "fulfilment-method" in params:
        bad.add("order-id", "Use either order-id or fulfilment-method, not both.")
    if order_id is not None and not order_id:
        bad.invalid("order-id", order_id, "must not be empty")
    if bad:
        return problems.bad_request(bad, instance)

    def read(state: BusinessState, now: datetime) -> list[dict[str, object]]:
        oldest = months_before(local_day(now), HISTORY_MONTHS)
        chosen = [
            s
            for s in state.shipments.values()
            if local_day(s.shipped_at) >= oldest
            and (
                s.order.order_id == order_id
                if order_id is not None
                else s.fulfilment_method == (method or DEFAULT_METHOD)
            )
        ]
        chosen.sort(key=lambda s: (s.shipped_at, s.shipment_id), reverse=True)
        return [reduced_shipment(s) for s in chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]

    rows = world.business.read(client_id, read)
    if not rows:
        return problems.empty_page()
    return problems.json_response(200, {"shipments": rows})


def get_shipment(world: World, client_id: str, shipment_id: str, instance: str) -> Response:
    """One full Shipment, or a 404 Problem."""

    def read(state: BusinessState, _: datetime) -> dict[str, object] | None:
        value = state.shipments.get(shipment_id)
        return shipment(value) if value else None

    body = world.business.read(client_id, read)
    if body is None:
        return problems.problem(404, f"Shipment for shipment id {shipment_id} not found.", instance)
    return problems.json_response(200, body)
