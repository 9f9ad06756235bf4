"""Dispatch of the returns, shipments, inventory and invoices endpoints (their routes are in ``routes.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bol_emulator import inventory_api, invoices_api, returns_api, shipments_api
from bol_emulator.problems import Response

if TYPE_CHECKING:
    from bol_emulator.app import Emulator, Request

TEMPLATES = (
    "/retailer/returns",
    "/retailer/returns/{return-id}",
    "/retailer/shipments",
    "/retailer/shipments/{shipment-id}",
    "/retailer/inventory",
    "/retailer/invoices",
    "/retailer/invoices/{invoice-id}",
    "/retailer/invoices/{invoice-id}/specification",
)


def dispatch(
    app: Emulator, template: str, param: str, media: str, client: str, request: Request, instance: str
) -> Response:
    """Answer an authorized, acceptable, rate-limited request to one of :data:`TEMPLATES`."""
    world, query, faults = app.world, request.query, app.faults.business
    if template == "/retailer/returns":
        return returns_api.list_returns(world, client, query, instance)
    if template == "/retailer/returns/{return-id}":
        return returns_api.get_return(world, client, param, instance)
    if template == "/retailer/shipments":
        return shipments_api.list_shipments(world, client, query, instance)
    if template == "/retailer/shipments/{shipment-id}":
        return shipments_api.get_shipment(world, client, param, instance)
    if template == "/retailer/inventory":
        return inventory_api.list_inventory(world, client, query, request.multi, instance, faults)
    if template == "/retailer/invoices":
        return invoices_api.list_invoices(world, client, query, instance, faults)
    if template == "/retailer/invoices/{invoice-id}":
        return invoices_api.get_invoice(world, client, param, media, instance)
    page_size = app.runtime.invoice_specification_page_size
    return invoices_api.get_specification(world, client, param, query, media, instance, faults, page_size)
