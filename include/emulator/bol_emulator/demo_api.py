"""bol's demo environment: ``/retailer-demo/...`` and ``/shared-demo/...`` with fixed answers.

Like bol's demo, the answers are hard-coded and the same for every seller: two orders, their details and one
process status. Query parameters are validated as in production; a page after the first is the end of the list.
"""

from __future__ import annotations

from typing import Any

from bol_emulator import orders_api, problems
from bol_emulator.problems import Response
from bol_emulator.world import World

RETAILER_DEMO = "/retailer-demo"
SHARED_DEMO = "/shared-demo"
ORDERS_TEMPLATE = "/retailer-demo/orders"
ORDER_TEMPLATE = "/retailer-demo/orders/{order-id}"
PROCESS_STATUS_TEMPLATE = "/shared-demo/process-status/{process-status-id}"
TEMPLATES = (ORDERS_TEMPLATE, ORDER_TEMPLATE, PROCESS_STATUS_TEMPLATE)


def _item(item_id: str, ean: str, title: str, price: float, method: str, status: str) -> dict[str, Any]:
    return {
        "orderItemId": item_id,
        "cancellationRequest": False,
        "fulfilment": {
            "method": method,
            "distributionParty": "RETAILER" if method == "FBR" else "BOL",
            "latestDeliveryDate": "2026-01-06",
            "expiryDate": "2026-01-09",
            "timeFrameType": "REGULAR",
        },
        "offer": {"offerId": f"demo-offer-{item_id}", "reference": f"REF-{item_id}"},
        "product": {"ean": ean, "title": title},
        "quantity": 1,
        "quantityShipped": 1 if status == "SHIPPED" else 0,
        "quantityCancelled": 0,
        "unitPrice": price,
        "totalPrice": price,
        "discounts": [],
        "commission": round(price * 0.15, 2),
        "latestChangedDateTime": "2026-01-05T09:30:00+01:00",
    }


_PERSON = {
    "salutation": "MALE",
    "firstName": "Demo",
    "surname": "Customer",
    "streetName": "Papendorpseweg",
    "houseNumber": "100",
    "zipCode": "3528 BJ",
    "city": "Utrecht",
    "countryCode": "NL",
    "email": "demo-customer@verkopen.example",
    "language": "nl",
}

#: The fixed orders of the demo, in full (bol's ``Order``).
ORDERS: dict[str, dict[str, Any]] = {
    "1043946570": {
        "orderId": "1043946570",
        "pickupPoint": False,
        "orderPlacedDateTime": "2026-01-04T22:11:03+01:00",
        "shipmentDetails": dict(_PERSON),
        "billingDetails": dict(_PERSON),
        "orderItems": [_item("6107434013", "8717185945126", "Demo product: a kettle", 39.99, "FBR", "OPEN")],
    },
    "1042831430": {
        "orderId": "1042831430",
        "pickupPoint": False,
        "orderPlacedDateTime": "2026-01-03T14:02:45+01:00",
        "shipmentDetails": dict(_PERSON),
        "billingDetails": dict(_PERSON),
        "orderItems": [_item("6106911017", "8712626055150", "Demo product: a teapot", 24.5, "FBB", "SHIPPED")],
    },
}
#: The process status every demo id answers with (bol's demo mocks process statuses).
PROCESS_STATUS = {
    "entityId": "demo-entity-1",
    "eventType": "CREATE_OFFER_EXPORT",
    "description": "Create an offer export.",
    "status": "SUCCESS",
    "createTimestamp": "2026-01-05T10:00:00+01:00",
}


def reduced(order: dict[str, Any]) -> dict[str, Any]:
    """The ReducedOrder of a fixed order."""
    keys = (
        "orderItemId",
        "ean",
        "fulfilmentMethod",
        "fulfilmentStatus",
        "quantity",
        "quantityShipped",
        "quantityCancelled",
        "cancellationRequest",
        "latestChangedDateTime",
    )
    items = []
    for item in order["orderItems"]:
        method = item["fulfilment"]["method"]
        status = "HANDLED" if item["quantityShipped"] == item["quantity"] else "OPEN"
        flat = {**item, "ean": item["product"]["ean"], "fulfilmentMethod": method, "fulfilmentStatus": status}
        items.append({key: flat[key] for key in keys})
    return {"orderId": order["orderId"], "orderPlacedDateTime": order["orderPlacedDateTime"], "orderItems": items}


def dispatch(world: World, template: str, param: str, query: dict[str, str], instance: str, base: str) -> Response:
    """Answer a demo route (authorized and rate-limited like any other)."""
    if template == ORDERS_TEMPLATE:
        _, page, violations = orders_api.parse_filter(query, world.clock.now())
        if violations:
            return problems.bad_request(violations, instance)
        if page > 1:
            return problems.empty_page()
        return problems.json_response(200, {"orders": [reduced(order) for order in ORDERS.values()]})
    if template == ORDER_TEMPLATE:
        order = ORDERS.get(param)
        if order is None:
            return problems.problem(404, f"Order for order id {param} not found.", instance)
        return problems.json_response(200, order)
    link = {"rel": "self", "href": f"{base}{SHARED_DEMO}/process-status/{param}", "method": "GET"}
    return problems.json_response(200, {"processStatusId": param, **PROCESS_STATUS, "links": [link]})
