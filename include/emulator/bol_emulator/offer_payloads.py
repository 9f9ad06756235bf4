"""Offer shapes: v11 OfferResponse, v10 RetailerOffer, a v10 export CSV row, the ground-truth row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bol_emulator.offers import Offer

# The documented export columns (bol's demo docs) plus economicOperatorId (release 10.18, 2025-01-20).
CSV_COLUMNS = [
    "offerId",
    "ean",
    "conditionName",
    "conditionCategory",
    "conditionComment",
    "bundlePricesPrice",
    "fulfilmentDeliveryCode",
    "stockAmount",
    "onHoldByRetailer",
    "fulfilmentType",
    "mutationDateTime",
    "referenceCode",
    "economicOperatorId",
]
PROMISES = {"1-2d": (1, 2), "2-3d": (2, 3), "3-5d": (3, 5), "4-8d": (4, 8), "1-8d": (1, 8)}


def zulu_ms(moment: datetime) -> str:
    """``2026-11-20T13:03:11.250Z`` (UTC, milliseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def export_time(moment: datetime) -> str:
    """The export's ``mutationDateTime``: ``2019-06-04 11:03:12.26 UTC`` (fraction without trailing zeros)."""
    fraction = f"{moment.microsecond // 1000:03d}".rstrip("0") or "0"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{fraction} UTC"


def _condition_v11(offer: Offer) -> dict[str, Any]:
    if offer.condition == "NEW":
        return {"category": "NEW"}
    body: dict[str, Any] = {"category": "SECONDHAND", "state": offer.condition}
    if offer.condition_comment:
        body["comment"] = offer.condition_comment
    return body


def _fulfilment_v11(offer: Offer) -> dict[str, Any]:
    if offer.fulfilment_method == "FBB":
        return {"method": "FBB", "schedule": "BOL_DELIVERY_PROMISE"}
    code = offer.delivery_code or ""
    if code == "VVB":
        return {"method": "FBR", "schedule": "SHIPPING_VIA_BOL"}
    if code.startswith("24uurs-"):
        promise: dict[str, Any] = {"minimumDaysToCustomer": 1, "maximumDaysToCustomer": 1}
        promise["ultimateOrderTime"] = f"{code.removeprefix('24uurs-')}:00"
    else:
        low, high = PROMISES.get(code, (1, 3))
        promise = {"minimumDaysToCustomer": low, "maximumDaysToCustomer": high}
    return {"method": "FBR", "schedule": "MY_DELIVERY_PROMISE", "deliveryPromise": promise}


def _bundle_prices(offer: Offer) -> list[dict[str, Any]]:
    return [{"quantity": quantity, "unitPrice": float(price)} for quantity, price in offer.bundle_prices]


def v11_offer(offer: Offer) -> dict[str, Any]:
    """An OfferResponse of the v11 Offer API (optional fields only when set)."""
    body: dict[str, Any] = {
        "offerId": offer.offer_id,
        "ean": offer.ean,
        "lastModifiedDateTime": zulu_ms(offer.last_modified_at),
    }
    if offer.reference is not None:
        body["reference"] = offer.reference
    body["onHoldByRetailer"] = offer.on_hold
    if offer.economic_operator_id is not None:
        body["economicOperatorId"] = offer.economic_operator_id
    body["stock"] = {
        "amount": offer.stock,
        "correctedStock": offer.corrected_stock,
        "managedByRetailer": offer.managed_by_retailer,
    }
    body["countryAvailabilities"] = [{"countryCode": c, "forSale": offer.for_sale} for c in offer.countries]
    body["condition"] = _condition_v11(offer)
    body["product"] = {"bolProductId": offer.bol_product_id}
    body["pricing"] = {"bundlePrices": _bundle_prices(offer)}
    body["fulfilment"] = _fulfilment_v11(offer)
    return body


def v10_offer(offer: Offer) -> dict[str, Any]:
    """A v10 RetailerOffer (``GET /retailer/offers/{offer-id}`` with the v10 media type)."""
    condition: dict[str, Any] = {"name": offer.condition, "category": offer.condition_category}
    if offer.condition_comment:
        condition["comment"] = offer.condition_comment
    fulfilment: dict[str, Any] = {"method": offer.fulfilment_method}
    if offer.delivery_code:
        fulfilment["deliveryCode"] = offer.delivery_code
    body: dict[str, Any] = {"offerId": offer.offer_id, "ean": offer.ean}
    if offer.reference is not None:
        body["reference"] = offer.reference
    body["onHoldByRetailer"] = offer.on_hold
    if offer.economic_operator_id is not None:
        body["economicOperatorId"] = offer.economic_operator_id
    body["pricing"] = {"bundlePrices": _bundle_prices(offer)}
    body["stock"] = {
        "amount": offer.stock,
        "correctedStock": offer.corrected_stock,
        "managedByRetailer": offer.managed_by_retailer,
    }
    body["fulfilment"] = fulfilment
    body["store"] = {
        "productTitle": offer.title,
        "visible": [{"countryCode": c} for c in offer.countries] if offer.for_sale else [],
    }
    body["condition"] = condition
    body["notPublishableReasons"] = [] if offer.for_sale else [{"code": "4003", "description": _reason(offer)}]
    return body


def _reason(offer: Offer) -> str:
    if offer.on_hold:
        return "The seller has not marked the offer for-sale"
    if offer.economic_operator_id is None:
        return "Offline due to incomplete economic operator"
    return "Out of stock or remaining stock is reserved for pending orders."


def csv_row(offer: Offer) -> dict[str, str]:
    """One export line by column name."""
    return {
        "offerId": offer.offer_id,
        "ean": offer.ean,
        "conditionName": offer.condition,
        "conditionCategory": offer.condition_category,
        "conditionComment": offer.condition_comment or "",
        "bundlePricesPrice": f"{offer.price:.2f}",
        "fulfilmentDeliveryCode": offer.delivery_code or "",
        "stockAmount": str(offer.stock),
        "onHoldByRetailer": "true" if offer.on_hold else "false",
        "fulfilmentType": offer.fulfilment_method,
        "mutationDateTime": export_time(offer.last_modified_at),
        "referenceCode": offer.reference or "",
        "economicOperatorId": offer.economic_operator_id or "",
    }


def truth_row(retailer_id: str, offer: Offer) -> dict[str, Any]:
    """One ground-truth row (snake_case, UTC ISO 8601 with milliseconds)."""
    return {
        "retailer_id": retailer_id,
        "offer_id": offer.offer_id,
        "ean": offer.ean,
        "reference": offer.reference,
        "product_title": offer.title,
        "condition_name": offer.condition,
        "condition_category": offer.condition_category,
        "condition_comment": offer.condition_comment,
        "price": float(offer.price),
        "bundle_prices": [[quantity, float(price)] for quantity, price in offer.bundle_prices],
        "stock_amount": offer.stock,
        "corrected_stock": offer.corrected_stock,
        "managed_by_retailer": offer.managed_by_retailer,
        "on_hold": offer.on_hold,
        "for_sale": offer.for_sale,
        "countries": list(offer.countries),
        "fulfilment_method": offer.fulfilment_method,
        "delivery_code": offer.delivery_code,
        "economic_operator_id": offer.economic_operator_id,
        "created_at": offer.created_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "last_modified_at": offer.last_modified_at.astimezone(UTC).isoformat(timespec="milliseconds"),
    }
