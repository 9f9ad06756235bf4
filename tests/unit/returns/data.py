"""bol return JSON for the returns tests: list entries (ReducedReturn) and details (Return) as the spec shapes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CUSTOMER = {
    "salutation": "FEMALE",
    "firstName": "Billie",
    "surname": "Jansen",
    "streetName": "Dorpstraat",
    "houseNumber": "1",
    "zipCode": "1111ZZ",
    "city": "Utrecht",
    "countryCode": "NL",
    "email": "billie@verkopen.bol.com",
}
COMMENT = "Doos was open bij aankomst."


def result(quantity: int = 1, handling: str = "RETURN_RECEIVED", at: datetime = NOW) -> dict[str, Any]:
    return {
        "quantity": quantity,
        "processingResult": "REJECTED" if handling == "RETURN_DOES_NOT_MEET_CONDITIONS" else "ACCEPTED",
        "handlingResult": handling,
        "processingDateTime": at.isoformat(),
    }


def item(
    rma_id: str,
    order_id: str = "O1",
    ean: str = "8712345678906",
    *,
    quantity: int = 1,
    results: list[dict[str, Any]] | None = None,
    handled: bool | None = None,
    detail: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rmaId": rma_id,
        "orderId": order_id,
        "ean": ean,
        "expectedQuantity": quantity,
        "returnReason": {
            "mainReason": "Verkeerd besteld",
            "detailedReason": "Dubbel besteld",
            "customerComments": COMMENT,
        },
        "handled": bool(results) if handled is None else handled,
        "processingResults": list(results or []),
    }
    if detail:
        body.update(title="Harry Potter", trackAndTrace="3SBOLR000000001", transporterName="PostNL")
        body["customerDetails"] = dict(CUSTOMER)
    return body


def entry(
    return_id: str,
    registered: datetime = NOW - timedelta(days=1),
    method: str = "FBR",
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "returnId": return_id,
        "registrationDateTime": registered.isoformat(timespec="milliseconds"),
        "fulfilmentMethod": method,
        "returnItems": items if items is not None else [item(f"{return_id}1")],
    }
