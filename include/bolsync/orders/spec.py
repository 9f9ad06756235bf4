"""The orders stream: order items by the date (or the last minutes) of their latest change, and their orders."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta

from bolsync.streams.spec import Endpoint, Replication, StreamSpec
from bolsync.warehouse.base import Table

STREAM = "orders"

ORDERS = Table("bol.orders", ("retailer_id", "order_id"))
ORDER_ITEMS = Table("bol.order_items", ("retailer_id", "order_item_id"), version="latest_changed_at")

SPEC = StreamSpec(
    name=STREAM,
    title="orders and their items",
    replication=Replication.CHANGE_WINDOW,
    tables=(ORDERS, ORDER_ITEMS),
    endpoints=(Endpoint("GET /retailer/orders", page_size=50), Endpoint("GET /retailer/orders/{id}")),
    history=relativedelta(months=3),
    backfill_dag="bol_orders_daily",
    dags=("bol_orders_15min", "bol_orders_hourly", "bol_orders_daily"),
    personal_fields=("shipmentDetails", "billingDetails"),
    covered="every order item whose latest change falls in the window was synced",
    module="bolsync.orders.stream",
)
