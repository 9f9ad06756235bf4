"""JSON shapes of shipments: bol's ReducedShipment and Shipment, and the emulator's ground-truth rows."""

from __future__ import annotations

from typing import Any

from bol_emulator.invoices import pro_rata
from bol_emulator.model import amsterdam_iso, utc_iso
from bol_emulator.shipments import Shipment, ShipmentItem, Transport


def reduced_shipment(shipment: Shipment) -> dict[str, Any]:
    """A ReducedShipment: ids, time, reference, order and items; no transporter, track and trace or quantities."""
    return {
        "shipmentId": shipment.shipment_id,
        "shipmentDateTime": amsterdam_iso(shipment.shipped_at),
        "shipmentReference": shipment.reference,
        "order": {
            "orderId": shipment.order.order_id,
            "orderPlacedDateTime": amsterdam_iso(shipment.order.placed_at),
        },
        "shipmentItems": [{"orderItemId": p.item.order_item_id, "ean": p.item.ean} for p in shipment.items],
        "transport": {"transportId": shipment.transport.transport_id},
    }


def shipment_item(part: ShipmentItem) -> dict[str, Any]:
    """A ShipmentItem: ``quantity`` is what was ordered, ``quantityShipped`` what this parcel carried;
    ``commission`` is the order's estimated commission for those units."""
    item = part.item
    fulfilment: dict[str, Any] = {"method": item.fulfilment_method, "distributionParty": item.distribution_party}
    if not item.exact_delivery:
        fulfilment["latestDeliveryDate"] = item.delivery_date.isoformat()
    offer: dict[str, Any] = {"offerId": item.offer_id}
    if item.offer_reference is not None:
        offer["reference"] = item.offer_reference
    return {
        "orderItemId": item.order_item_id,
        "fulfilment": fulfilment,
        "offer": offer,
        "product": {"ean": item.ean, "title": item.title},
        "quantity": item.quantity,
        "quantityShipped": part.quantity,
        "unitPrice": float(item.unit_price),
        "commission": float(pro_rata(item.commission, part.quantity, item.quantity)),
    }


def transport(value: Transport) -> dict[str, Any]:
    """A ShipmentTransport with the events so far."""
    body: dict[str, Any] = {"transportId": value.transport_id, "transporterCode": value.transporter_code}
    if value.track_and_trace is not None:
        body["trackAndTrace"] = value.track_and_trace
    if value.shipping_label_id is not None:
        body["shippingLabelId"] = value.shipping_label_id
    body["transportEvents"] = [{"eventCode": e.code, "eventDateTime": amsterdam_iso(e.at)} for e in value.events]
    return body


def shipment(value: Shipment) -> dict[str, Any]:
    """The full Shipment with the customer's shipment and billing details (personal data)."""
    return {
        "shipmentId": value.shipment_id,
        "shipmentDateTime": amsterdam_iso(value.shipped_at),
        "shipmentReference": value.reference,
        "pickupPoint": value.order.pickup_point,
        "order": {"orderId": value.order.order_id, "orderPlacedDateTime": amsterdam_iso(value.order.placed_at)},
        "shipmentDetails": dict(value.order.shipment_details),
        "billingDetails": dict(value.order.billing_details),
        "shipmentItems": [shipment_item(part) for part in value.items],
        "transport": transport(value.transport),
    }


def truth_row(retailer_id: str, value: Shipment) -> dict[str, Any]:
    """One ``shipments`` truth row (UTC timestamps; events so far, oldest first)."""
    events = [{"event_code": e.code, "event_at": utc_iso(e.at)} for e in value.transport.events]
    return {
        "retailer_id": retailer_id,
        "shipment_id": value.shipment_id,
        "shipment_reference": value.reference,
        "shipped_at": utc_iso(value.shipped_at),
        "order_id": value.order.order_id,
        "order_placed_at": utc_iso(value.order.placed_at),
        "fulfilment_method": value.fulfilment_method,
        "pickup_point": value.order.pickup_point,
        "transport_id": value.transport.transport_id,
        "transporter_code": value.transport.transporter_code,
        "track_and_trace": value.transport.track_and_trace,
        "shipping_label_id": value.transport.shipping_label_id,
        "transport_events": events,
        "latest_event_code": events[-1]["event_code"] if events else None,
        "latest_event_at": events[-1]["event_at"] if events else None,
        "shipment_details": dict(value.order.shipment_details),
        "billing_details": dict(value.order.billing_details),
    }


def item_truth_row(retailer_id: str, value: Shipment, part: ShipmentItem) -> dict[str, Any]:
    """One ``shipment_items`` truth row: ``quantity`` is the units in this shipment."""
    return {
        "retailer_id": retailer_id,
        "shipment_id": value.shipment_id,
        "order_id": value.order.order_id,
        "order_item_id": part.item.order_item_id,
        "ean": part.item.ean,
        "quantity": part.quantity,
        "quantity_ordered": part.item.quantity,
        "unit_price": float(part.item.unit_price),
        "commission": float(pro_rata(part.item.commission, part.quantity, part.item.quantity)),
        "fulfilment_method": part.item.fulfilment_method,
    }
