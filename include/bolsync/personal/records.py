"""One personal-data row per order, with the e-mail pseudonymised for joins."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Contact details: purged after the account's retention period.
CONTACT_COLUMNS = (
    "email_address",
    "delivery_phone_number",
    "shipment_salutation",
    "shipment_first_name",
    "shipment_surname",
    "shipment_street_name",
    "shipment_house_number",
    "shipment_house_number_extension",
    "shipment_zip_code",
    "shipment_city",
    "shipment_company_name",
)
#: What an invoice needs: kept for the fiscal retention period, then deleted with the row.
INVOICE_COLUMNS = (
    "billing_salutation",
    "billing_first_name",
    "billing_surname",
    "billing_street_name",
    "billing_house_number",
    "billing_house_number_extension",
    "billing_zip_code",
    "billing_city",
    "billing_country_code",
    "billing_company_name",
    "vat_number",
    "kvk_number",
    "order_reference",
)
_FIELDS = {
    "salutation": "salutation",
    "first_name": "firstName",
    "surname": "surname",
    "street_name": "streetName",
    "house_number": "houseNumber",
    "house_number_extension": "houseNumberExtension",
    "zip_code": "zipCode",
    "city": "city",
    "company_name": "company",
}


def pseudonym(email: Any, secret: bytes) -> str | None:
    """A stable keyed hash of the normalised e-mail: joins across orders without the address itself."""
    if not email:
        return None
    text = str(email).strip().lower().encode("utf-8", "surrogatepass")
    return hmac.new(secret, text, hashlib.sha256).hexdigest()


def personal_record(order: Mapping[str, Any], secret: bytes) -> dict[str, Any]:
    """The personal fields of a full order (``GET /retailer/orders/{id}``) as one flat row; a block that is no
    object gives no fields, with a warning naming the order."""
    shipment = _block(order, "shipmentDetails")
    billing = _block(order, "billingDetails")
    row: dict[str, Any] = {
        "order_id": str(order.get("orderId")),
        "email_pseudonym": pseudonym(shipment.get("email") or billing.get("email"), secret),
        "email_address": shipment.get("email") or billing.get("email"),
        "delivery_phone_number": shipment.get("deliveryPhoneNumber"),
        "billing_country_code": billing.get("countryCode"),
        "vat_number": billing.get("vatNumber"),
        "kvk_number": billing.get("kvkNumber"),
        "order_reference": billing.get("orderReference"),
    }
    for column, key in _FIELDS.items():
        row[f"shipment_{column}"] = _text(shipment.get(key))
        row[f"billing_{column}"] = _text(billing.get(key))
    return row


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _block(order: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    block = order.get(name)
    if block is None or isinstance(block, Mapping):
        return block or {}
    kind = type(block).__name__
    log.warning("Order %r: %s is a %s, not an object; none of its fields is stored.", order.get("orderId"), name, kind)
    return {}


#: The customer data of a return item (``customerDetails`` and ``customerComments``): all of it purged after the
#: account's retention period (a return needs none of it for an invoice); the pseudonym stays for joins.
RETURN_CONTACT_COLUMNS = (
    "salutation",
    "first_name",
    "surname",
    "street_name",
    "house_number",
    "house_number_extension",
    "extra_address_information",
    "zip_code",
    "city",
    "country_code",
    "email_address",
    "delivery_phone_number",
    "company_name",
    "vat_number",
    "customer_comments",
)
_RETURN_FIELDS = {
    "salutation": "salutation",
    "first_name": "firstName",
    "surname": "surname",
    "street_name": "streetName",
    "house_number": "houseNumber",
    "house_number_extension": "houseNumberExtension",
    "extra_address_information": "extraAddressInformation",
    "zip_code": "zipCode",
    "city": "city",
    "country_code": "countryCode",
    "email_address": "email",
    "delivery_phone_number": "deliveryPhoneNumber",
    "company_name": "company",
    "vat_number": "vatNumber",
}


def return_customer_rows(entry: Mapping[str, Any], secret: bytes) -> list[dict[str, Any]]:
    """One personal row per item of a return (list entry or detail): its customer's details (the detail only) and
    comments. A ``customerDetails`` or ``returnReason`` that is no object gives no fields, with a warning naming the
    return; an item that is no object, or has no ``rmaId``, gives no row."""
    where = f"Return {str(entry.get('returnId'))[:40]!r}"
    rows = []
    items = entry.get("returnItems")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or item.get("rmaId") in (None, ""):
            continue
        details = _object(item.get("customerDetails"), f"{where} item {str(item.get('rmaId'))[:40]!r}: customerDetails")
        reason = _object(item.get("returnReason"), f"{where}: returnReason")
        row: dict[str, Any] = {
            "return_id": str(entry.get("returnId")),
            "rma_id": str(item["rmaId"]),
            "registered_at": entry.get("registrationDateTime"),
            "email_pseudonym": pseudonym(details.get("email"), secret),
            "customer_comments": _text(reason.get("customerComments")) or None,
        }
        for column, key in _RETURN_FIELDS.items():
            row[column] = _text(details.get(key))
        rows.append(row)
    return rows


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None or isinstance(value, Mapping):
        return value or {}
    log.warning("%s is a %s, not an object; none of its fields is stored.", where, type(value).__name__)
    return {}
