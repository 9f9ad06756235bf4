"""The API's endpoints: path templates, allowed methods, media types, and which handler answers them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from bol_emulator import business_routes, demo_api, offer_export, offers_api, orders_api
from bol_emulator.invoices_api import V10_PDF, V10_XLSX
from bol_emulator.problems import V10_CSV, V10_JSON, V11_JSON, Response

if TYPE_CHECKING:
    from bol_emulator.app import Emulator, Request

ZERO_Q = ("q=0", "q=0.0", "q=0.00", "q=0.000")


@dataclass(frozen=True)
class Route:
    """One path template; ``media`` lists the response media types it serves, preferred first."""

    template: str
    methods: tuple[str, ...]
    media: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{[^}]+\}", "([^/]+)", self.template) + "$")


# Order matters: /retailer/offers/export must win over /retailer/offers/{offer-id}.
ROUTES = (
    Route("/retailer/orders", ("GET",), (V10_JSON,)),
    Route("/retailer/orders/{order-id}", ("GET",), (V10_JSON,)),
    Route("/retailer/offers/export", ("POST",), (V10_JSON,)),
    Route("/retailer/offers/export/{report-id}", ("GET",), (V10_CSV,)),
    Route("/retailer/offers", ("GET",), (V11_JSON,)),
    Route("/retailer/offers/{offer-id}", ("GET",), (V11_JSON, V10_JSON)),
    Route("/shared/process-status/{process-status-id}", ("GET",), (V10_JSON,)),
    Route("/retailer/returns", ("GET",), (V10_JSON,)),
    Route("/retailer/returns/{return-id}", ("GET",), (V10_JSON,)),
    Route("/retailer/shipments", ("GET",), (V10_JSON,)),
    Route("/retailer/shipments/{shipment-id}", ("GET",), (V10_JSON,)),
    Route("/retailer/inventory", ("GET",), (V10_JSON,)),
    Route("/retailer/invoices", ("GET",), (V10_JSON,)),
    Route("/retailer/invoices/{invoice-id}", ("GET",), (V10_JSON, V10_PDF)),
    Route("/retailer/invoices/{invoice-id}/specification", ("GET",), (V10_JSON, V10_XLSX)),
    Route(demo_api.ORDERS_TEMPLATE, ("GET",), (V10_JSON,)),
    Route(demo_api.ORDER_TEMPLATE, ("GET",), (V10_JSON,)),
    Route(demo_api.PROCESS_STATUS_TEMPLATE, ("GET",), (V10_JSON,)),
)
PATTERNS = [(route, route.pattern) for route in ROUTES]


def match(path: str) -> tuple[Route | None, str | None]:
    """The route of a path and its path parameter (unquoted), or ``(None, None)``."""
    for route, pattern in PATTERNS:
        found = pattern.match(path)
        if found:
            return route, unquote(found.group(1)) if found.groups() else None
    return None, None


def negotiate(accept: str | None, offered: tuple[str, ...]) -> str | None:
    """The media type to answer with: the first the ``Accept`` header allows (a missing one or a wildcard
    takes the endpoint's preferred type), or None (406)."""
    if accept is None or not accept.strip():
        return offered[0]
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if any(p.replace(" ", "") in ZERO_Q for p in params):
            continue
        media = media.lower()
        if media in ("*/*", "application/*"):
            return offered[0]
        if media in offered:
            return media
    return None


def dispatch(app: Emulator, route: Route, param: str | None, media: str, client: str, request: Request) -> Response:
    """Answer an authorized, acceptable, rate-limited request."""
    instance = f"{request.base_url}{request.path}"
    template = route.template
    if template in demo_api.TEMPLATES:
        return demo_api.dispatch(app.world, template, param or "", request.query, instance, request.base_url)
    if template in business_routes.TEMPLATES:
        return business_routes.dispatch(app, template, param or "", media, client, request, instance)
    if template == "/retailer/orders":
        return orders_api.list_orders(
            app.world, client, request.query, instance, app.faults.pages, app.stats.record_fault, app.faults.orders
        )
    if template == "/retailer/orders/{order-id}":
        return orders_api.get_order(app.world, client, param or "", instance, app.faults.orders)
    if template == "/retailer/offers":
        return offers_api.list_offers(app.world, client, request.query, request.multi, instance, app.faults.offers)
    if template == "/retailer/offers/{offer-id}":
        return offers_api.get_offer(app.world, client, param or "", media, instance)
    if template == "/retailer/offers/export":
        return offer_export.request_export(app, client, request, instance)
    if template == "/retailer/offers/export/{report-id}":
        return offer_export.report(app, client, param or "", instance)
    return offer_export.process_status(app, client, param or "", instance, request.base_url)
