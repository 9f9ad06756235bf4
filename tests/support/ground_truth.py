"""What the tests compare between the warehouse and the emulator's ground truth."""

from __future__ import annotations

#: bol.order_items columns checked against the emulator's items (the order-detail ones included).
ITEM_COLUMNS = (
    "order_id",
    "ean",
    "quantity",
    "quantity_shipped",
    "quantity_cancelled",
    "fulfilment_method",
    "fulfilment_status",
    "cancellation_request",
    "latest_changed_at",
    "unit_price",
    "commission",
    "offer_id",
    "offer_reference",
    "product_title",
)
