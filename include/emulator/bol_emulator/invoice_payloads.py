"""JSON shapes of invoices, as third-party clients read them (the spec types these answers as plain strings).

What is known, and how sure:

* List (``GET /retailer/invoices``): ``{"invoiceListItems": [...], "period": "<start>/<end>"}``, each item with
  ``invoiceId``, ``invoiceMediaTypes.availableMediaTypes``, ``invoiceType`` (``ALL_IN_ONE``; the advertising
  invoice is ``ADVERTISING_VIA_BOL``, formerly ``BOL_RETAIL_MEDIA_GROUP``), ``issueDate``, ``invoicePeriod``
  (``startDate``/``endDate``), ``legalMonetaryTotal`` (``lineExtensionAmount``, ``payableAmount``,
  ``taxExclusiveAmount``, ``taxInclusiveAmount``, each ``{"amount", "currencyID"}``),
  ``specificationMediaTypes.availableMediaTypes`` and ``openAmount``. Sure: one captured response
  (123lens/bol-retailer-api ``tests/Mocks/200-get-all-invoices.json``) and several clients reading the same
  names (Python scripts on v6, JS and PHP clients on v10, bol's invoices page for the types and
  ``payableAmount``'s sign). Dates are epoch milliseconds (a v10 JS client says so; the captured mock mixes
  seconds and milliseconds): chosen, milliseconds at midnight Amsterdam. Media types are listed plain
  (``application/pdf``), as the mock and the spec's note ("must be given in our standard API format") say.
* Detail (``GET /retailer/invoices/{id}``, JSON): the UBL 2.1 invoice in JSON with UBL's element names (``ID``,
  ``IssueDate``, ``InvoiceTypeCode``, ``DocumentCurrencyCode``, ``AccountingSupplierParty``,
  ``AccountingCustomerParty``: a PHP client's test and the captured UBL XML). Chosen: ``InvoicePeriod``,
  ``TaxTotal.TaxSubtotal`` (the VAT per rate and tax category) and ``LegalMonetaryTotal`` as in UBL, and one
  ``InvoiceLine`` per charge type and rate ("an invoice with summaries of the available line types", bol's
  v3 invoices page).
* Specification (``GET /retailer/invoices/{id}/specification?page``): ``{"invoiceSpecification": [...]}``,
  each line with ``id``, ``invoiceLineRef``, ``invoicedQuantity.value``, ``lineExtensionAmount.value``
  (excluding VAT), ``taxTotal.TaxAmount.value``, ``price.PriceAmount.value``, ``price.BaseQuantity.value``,
  ``item.Name.value`` (the line type), ``item.Description[0].value``, ``item.ClassifiedTaxCategory[0]
  .Percent.value`` and ``item.AdditionalItemProperty[]`` (``Name.value``/``Value.value``; the first is the
  order id): fairly sure, one Python client on v6 reads exactly these, a second one the same names and the
  line ``id`` as ``<order id>#<EAN>#<line type>``. Chosen: the property names (``orderId``, ``ean``,
  ``orderItemId``, ``shipmentId``, ``rmaId``, ``transactionDate``), ``invoiceLineRef`` as
  ``<invoice id>-<line number>`` (the one key unique per line: ``id`` repeats when an order item has two lines of
  one type), the tax category ids (``S`` 21 %, ``E`` exempt, ``O`` outside VAT) and ``{}`` past the last page.
  Amounts are signed from bol's side: costs positive, turnover negative (bol: a negative ``payableAmount`` is
  owed to the retailer).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bol_emulator.invoices import Charge, Invoice, local_day, start_of
from bol_emulator.model import amsterdam_iso, money, utc_iso

INVOICE_MEDIA = ["application/json", "application/pdf"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPECIFICATION_MEDIA = ["application/json", XLSX]
CURRENCY = "EUR"
#: Days after issuing during which an invoice is still open (``openAmount`` = ``payableAmount``).
OPEN_DAYS = 14
BOL_PARTY = {
    "PartyIdentification": {"ID": {"value": "32147382", "schemeID": "NL:KVK"}},
    "PartyName": {"Name": "bol.com B.V."},
    "PostalAddress": {
        "StreetName": "Papendorpseweg",
        "BuildingNumber": "100",
        "CityName": "Utrecht",
        "PostalZone": "3528 BJ",
        "Country": {"IdentificationCode": "NL"},
    },
    "PartyTaxScheme": {"CompanyID": {"value": "NL820471616B01", "schemeID": "NL:VAT"}, "TaxScheme": {"ID": "VAT"}},
}


def epoch_ms(day: date) -> int:
    """Midnight in Amsterdam at the start of ``day``, in epoch milliseconds."""
    return int(start_of(day).timestamp() * 1000)


def listed_amount(value: Decimal) -> dict[str, Any]:
    return {"amount": float(value), "currencyID": CURRENCY}


def ubl_amount(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currencyID": CURRENCY}


def list_item(invoice: Invoice, now: datetime, specification_media: list[str]) -> dict[str, Any]:
    """One entry of ``invoiceListItems``."""
    excl, vat = invoice.total_excl_vat, invoice.total_vat
    payable = excl + vat
    still_open = local_day(now) - invoice.issue_date <= timedelta(days=OPEN_DAYS)
    return {
        "invoiceId": invoice.invoice_id,
        "invoiceMediaTypes": {"availableMediaTypes": list(INVOICE_MEDIA)},
        "invoiceType": invoice.invoice_type,
        "issueDate": epoch_ms(invoice.issue_date),
        "invoicePeriod": {"startDate": epoch_ms(invoice.period_start), "endDate": epoch_ms(invoice.period_end)},
        "legalMonetaryTotal": {
            "lineExtensionAmount": listed_amount(excl),
            "payableAmount": listed_amount(payable),
            "taxExclusiveAmount": listed_amount(excl),
            "taxInclusiveAmount": listed_amount(payable),
        },
        "specificationMediaTypes": {"availableMediaTypes": specification_media},
        "openAmount": float(payable) if still_open else 0.0,
    }


def period_text(start: date, end: date) -> str:
    """The requested period as bol echoes it: ``<start midnight>/<end midnight>`` with offsets."""
    return f"{start_of(start).isoformat()}/{start_of(end).isoformat()}"


def tax_category(rate: Decimal, category: str) -> dict[str, Any]:
    return {"ID": category, "Percent": float(rate), "TaxScheme": {"ID": "VAT"}}


def detail(invoice: Invoice, retailer_id: str) -> dict[str, Any]:
    """The invoice as UBL JSON: parties, period, VAT per rate, totals and one summary line per line type and rate."""
    excl, vat = invoice.total_excl_vat, invoice.total_vat
    summaries: dict[tuple[str, Decimal, str], tuple[int, Decimal]] = {}
    for line in invoice.lines:
        key = (line.charge_type, line.vat_rate, line.tax_category)
        units, amount = summaries.get(key, (0, Decimal(0)))
        summaries[key] = (units + line.quantity, amount + line.amount)
    return {
        "ID": invoice.invoice_id,
        "IssueDate": invoice.issue_date.isoformat(),
        "InvoiceTypeCode": {"value": "380", "listID": "UNCL1001"},
        "DocumentCurrencyCode": CURRENCY,
        "InvoicePeriod": {"StartDate": invoice.period_start.isoformat(), "EndDate": invoice.period_end.isoformat()},
        "AccountingSupplierParty": {"Party": BOL_PARTY},
        "AccountingCustomerParty": {
            "Party": {
                "PartyIdentification": {"ID": {"value": retailer_id, "schemeID": "BOL:RETAILER"}},
                "PartyName": {"Name": f"Retailer {retailer_id}"},
            }
        },
        "TaxTotal": {
            "TaxAmount": ubl_amount(vat),
            "TaxSubtotal": [
                {
                    "TaxableAmount": ubl_amount(rate_excl),
                    "TaxAmount": ubl_amount(rate_vat),
                    "TaxCategory": tax_category(rate, category),
                }
                for (rate, category), (rate_excl, rate_vat) in invoice.by_rate().items()
            ],
        },
        "LegalMonetaryTotal": {
            "LineExtensionAmount": ubl_amount(excl),
            "TaxExclusiveAmount": ubl_amount(excl),
            "TaxInclusiveAmount": ubl_amount(excl + vat),
            "PayableAmount": ubl_amount(excl + vat),
        },
        "InvoiceLine": [
            {
                "ID": str(number),
                "InvoicedQuantity": {"value": units, "unitCode": "C62"},
                "LineExtensionAmount": ubl_amount(amount),
                "Item": {"Name": charge_type, "ClassifiedTaxCategory": tax_category(rate, category)},
            }
            for number, ((charge_type, rate, category), (units, amount)) in enumerate(summaries.items(), start=1)
        ],
    }


def properties(line: Charge) -> list[dict[str, Any]]:
    """``AdditionalItemProperty``: the links of a line, order id first, then its moment."""
    links = line.links
    pairs = [
        ("orderId", links.order_id),
        ("ean", links.ean),
        ("orderItemId", links.order_item_id),
        ("shipmentId", links.shipment_id),
        ("rmaId", links.rma_id),
        ("transactionDate", amsterdam_iso(line.at)),
    ]
    return [{"Name": {"value": name}, "Value": {"value": value}} for name, value in pairs if value is not None]


def specification_line(line: Charge, amount: Decimal | None = None) -> dict[str, Any]:
    """One ``invoiceSpecification`` line (``amount`` replaces the line's own, for a fault)."""
    value = line.amount if amount is None else amount
    return {
        "id": line.bol_line_id,
        "invoiceLineRef": line.line_ref,
        "invoicedQuantity": {"value": line.quantity, "unitCode": "C62"},
        "lineExtensionAmount": ubl_amount(value),
        "taxTotal": {"TaxAmount": ubl_amount(line.vat)},
        "price": {
            "PriceAmount": ubl_amount(money(value / line.quantity) if line.quantity else value),
            "BaseQuantity": {"value": 1, "unitCode": "C62"},
        },
        "item": {
            "Name": {"value": line.charge_type},
            "Description": [{"value": line.description}],
            "AdditionalItemProperty": properties(line),
            "ClassifiedTaxCategory": [
                {
                    "ID": {"value": line.tax_category},
                    "Percent": {"value": float(line.vat_rate)},
                    "TaxScheme": {"ID": {"value": "VAT"}},
                }
            ],
        },
    }


def truth_row(retailer_id: str, invoice: Invoice) -> dict[str, Any]:
    """One ``invoices`` truth row: totals and VAT per rate (``"21.00"``, ``"0.00"``)."""
    rates: dict[str, tuple[Decimal, Decimal]] = {}
    for (rate, _), (excl, vat) in invoice.by_rate().items():
        known_excl, known_vat = rates.get(f"{rate:.2f}", (Decimal(0), Decimal(0)))
        rates[f"{rate:.2f}"] = (known_excl + excl, known_vat + vat)
    return {
        "retailer_id": retailer_id,
        "invoice_id": invoice.invoice_id,
        "invoice_type": invoice.invoice_type,
        "issue_date": invoice.issue_date.isoformat(),
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "total_excl_vat": float(invoice.total_excl_vat),
        "total_vat": float(invoice.total_vat),
        "total_incl_vat": float(invoice.total_excl_vat + invoice.total_vat),
        "vat_by_rate": {key: {"total_excl_vat": float(e), "vat": float(v)} for key, (e, v) in rates.items()},
        "line_count": len(invoice.lines),
    }


def line_truth_row(retailer_id: str, line: Charge) -> dict[str, Any]:
    """One ``invoice_lines`` truth row (``line_ref`` is unique per invoice; ``bol_line_id`` is bol's ``id``)."""
    return {
        "retailer_id": retailer_id,
        "invoice_id": line.invoice_id,
        "line_ref": line.line_ref,
        "bol_line_id": line.bol_line_id,
        "charge_type": line.charge_type,
        "order_id": line.links.order_id,
        "order_item_id": line.links.order_item_id,
        "ean": line.links.ean,
        "shipment_id": line.links.shipment_id,
        "rma_id": line.links.rma_id,
        "quantity": line.quantity,
        "amount_excl_vat": float(line.amount),
        "vat_rate": float(line.vat_rate),
        "vat_amount": float(line.vat),
        "transaction_at": utc_iso(line.at),
        "description": line.description,
    }
