"""JSON shapes: bol's ReducedOrder and Order, and the emulator's ground-truth rows."""

from __future__ import annotations

from typing import Any

from bol_emulator.model import Order, OrderItem, amsterdam_iso, utc_iso


def reduced_item(item: OrderItem) -> dict[str, Any]:
    """A ReducedOrderItem (all required fields)."""
    return {
        "orderItemId": item.order_item_id,
        "ean": item.ean,
        "fulfilmentMethod": item.fulfilment_method,
        "fulfilmentStatus": item.fulfilment_status,
        "quantity": item.quantity,
        "quantityShipped": item.quantity_shipped,
        "quantityCancelled": item.quantity_cancelled,
        "cancellationRequest": item.cancellation_request,
        "latestChangedDateTime": amsterdam_iso(item.latest_changed_at),
    }


def reduced_order(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    """A ReducedOrder listing only ``items``."""
    return {
        "orderId": order.order_id,
        "orderPlacedDateTime": amsterdam_iso(order.placed_at),
        "orderItems": [reduced_item(item) for item in items],
    }


def fulfilment(item: OrderItem) -> dict[str, Any]:
    """An OrderFulfilment: either latestDeliveryDate or exactDeliveryDate."""
    body: dict[str, Any] = {"method": item.fulfilment_method, "distributionParty": item.distribution_party}
    key = "exactDeliveryDate" if item.exact_delivery else "latestDeliveryDate"
    body[key] = item.delivery_date.isoformat()
    body["expiryDate"] = item.expiry_date.isoformat()
    body["timeFrameType"] = item.time_frame_type
    return body


def order_item(item: OrderItem) -> dict[str, Any]:
    """An OrderOrderItem."""
    body: dict[str, Any] = {
        "orderItemId": item.order_item_id,
        "cancellationRequest": item.cancellation_request,
        "fulfilment": fulfilment(item),
        "offer": {"offerId": item.offer_id},
        "product": {"ean": item.ean, "title": item.title},
        "quantity": item.quantity,
        "quantityShipped": item.quantity_shipped,
        "quantityCancelled": item.quantity_cancelled,
        "unitPrice": float(item.unit_price),
        "totalPrice": float(item.total_price),
        "discounts": [{"title": d.title, "amount": float(d.amount)} for d in item.discounts],
        "commission": float(item.commission),
        "latestChangedDateTime": amsterdam_iso(item.latest_changed_at),
    }
    if item.offer_reference is not None:
        body["offer"]["reference"] = item.offer_reference
    if item.additional_services:
        body["additionalServices"] = [{"serviceType": s} for s in item.additional_services]
    return body


def order(order: Order) -> dict[str, Any]:
    """The full Order with personal data."""
    return {
        "orderId": order.order_id,
        "pickupPoint": order.pickup_point,
        "orderPlacedDateTime": amsterdam_iso(order.placed_at),
        "shipmentDetails": dict(order.shipment_details),
        "billingDetails": dict(order.billing_details),
        "orderItems": [order_item(item) for item in order.items],
    }


def truth_row(retailer_id: str, order: Order, item: OrderItem) -> dict[str, Any]:
    """One ground-truth row (snake_case, UTC timestamps)."""
    return {
        "retailer_id": retailer_id,
        "order_id": order.order_id,
        "order_item_id": item.order_item_id,
        "ean": item.ean,
        "quantity": item.quantity,
        "quantity_shipped": item.quantity_shipped,
        "quantity_cancelled": item.quantity_cancelled,
        "fulfilment_method": item.fulfilment_method,
        "fulfilment_status": item.fulfilment_status,
        "cancellation_request": item.cancellation_request,
        "latest_changed_at": utc_iso(item.latest_changed_at),
        "order_placed_at": utc_iso(order.placed_at),
        "unit_price": float(item.unit_price),
        "commission": float(item.commission),
        "offer_id": item.offer_id,
        "offer_reference": item.offer_reference,
        "product_title": item.title,
    }
