"""A fake of bol's shipment lists and details for the extract's tests: newest first, 50 a page, shipments listed
from a moment of their own (a listing delay), and a clock that moves with every call."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bolsync.shipments.extract import Page
from bolsync.shipments.spec import PAGE_SIZE
from bolsync_provider.errors import BolNotFound

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def detail(shipment_id: str, shipped: datetime, method: str = "FBR", *, events: int = 1) -> dict[str, Any]:
    """A full Shipment of one item, with ``events`` transport events (the customer's details included)."""
    codes = ["PRE_ANNOUNCED", "AT_TRANSPORTER", "IN_TRANSIT", "DELIVERED_AT_CUSTOMER"][:events]
    return {
        "shipmentId": shipment_id,
        "shipmentDateTime": shipped.isoformat(),
        "shipmentReference": f"REF-{shipment_id}",
        "pickupPoint": False,
        "order": {"orderId": f"O{shipment_id}", "orderPlacedDateTime": (shipped - timedelta(days=1)).isoformat()},
        "shipmentDetails": {"firstName": "Jan", "surname": "Jansen", "email": "jan@example.com", "city": "Utrecht"},
        "billingDetails": {"firstName": "Jan", "surname": "Jansen", "countryCode": "NL"},
        "shipmentItems": [
            {
                "orderItemId": f"I{shipment_id}",
                "fulfilment": {"method": method},
                "offer": {"offerId": f"off-{shipment_id}"},
                "product": {"ean": "8712345678906", "title": "Mok"},
                "quantity": 2,
                "quantityShipped": 2,
                "unitPrice": 9.95,
                "commission": 1.5,
            }
        ],
        "transport": {
            "transportId": f"T{shipment_id}",
            "transporterCode": "TNT",
            "trackAndTrace": f"3SBOL{shipment_id}",
            "transportEvents": [
                {"eventCode": code, "eventDateTime": (shipped + timedelta(hours=n + 1)).isoformat()}
                for n, code in enumerate(codes)
            ],
        },
    }


def reduced(full: dict[str, Any]) -> dict[str, Any]:
    """The list's ReducedShipment of a full one."""
    return {
        "shipmentId": full["shipmentId"],
        "shipmentDateTime": full["shipmentDateTime"],
        "shipmentReference": full["shipmentReference"],
        "order": full["order"],
        "shipmentItems": [{"orderItemId": i["orderItemId"], "ean": i["product"]["ean"]} for i in full["shipmentItems"]],
        "transport": {"transportId": full["transport"]["transportId"]},
    }


@dataclass
class FakeBol:
    """Shipments by id with the moment bol starts listing each; every call moves the clock by ``tick``."""

    shipments: dict[str, tuple[datetime, str, dict[str, Any]]] = field(default_factory=dict)
    list_calls: list[tuple[str, int]] = field(default_factory=list)
    detail_calls: list[str] = field(default_factory=list)
    now: datetime = NOW
    tick: timedelta = timedelta(seconds=1)
    #: Called after every list call (shipments arriving while a run pages).
    on_list: Any = None

    def add(self, shipment_id: str, shipped: datetime, method: str = "FBR", *, listed: datetime | None = None,
            events: int = 1) -> None:  # fmt: skip
        self.shipments[shipment_id] = (listed or shipped, method, detail(shipment_id, shipped, method, events=events))

    def listed(self, method: str) -> list[dict[str, Any]]:
        oldest = self.now - timedelta(days=92)
        chosen = [
            full
            for listed, m, full in self.shipments.values()
            if m == method and listed <= self.now and datetime.fromisoformat(full["shipmentDateTime"]) >= oldest
        ]
        chosen.sort(key=lambda s: (s["shipmentDateTime"], s["shipmentId"]), reverse=True)
        return chosen

    def fetch(self, method: str, number: int) -> Page:
        self.list_calls.append((method, number))
        rows = [reduced(s) for s in self.listed(method)[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]]
        self.now += self.tick
        page = Page(number, copy.deepcopy(rows), self.now)
        if self.on_list is not None:
            self.on_list(self)
        return page

    def get_json(self, path: str, *, endpoint: str, **_: Any) -> Any:
        key = path.rsplit("/", 1)[-1]
        self.detail_calls.append(key)
        self.now += self.tick
        if key not in self.shipments:
            raise BolNotFound(f"{endpoint}: no shipment {key}")
        return copy.deepcopy(self.shipments[key][2])
