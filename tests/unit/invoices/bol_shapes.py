"""A small invoice in the shapes bol's invoice answers come in, with its figures worked out by hand.

Invoice 4500000001, issued 1 March 2026 for 16-28 February 2026 (amounts excluding VAT, bol's sign: positive =
the seller owes bol, negative = bol owes the seller):

==  ===========================  =====  ======  =====  ======
#   charge type                  order  amount  rate   VAT
==  ===========================  =====  ======  =====  ======
1   TURNOVER (2 units)           O1     -59.98   0 O    0.00
2   COMMISSION (2 units)         O1       7.39  21 S    1.55   (7.39 x 0.21 = 1.5519)
3   SHIPMENT_LABEL               O1       4.25  21 S    0.89   (4.25 x 0.21 = 0.8925)
4   SHIPMENT_LABEL_POST          O2       3.90   0 E    0.00
5   CORRECTION_TURNOVER (RMA R1) O3      19.99   0 O    0.00
6   CORRECTION_COMMISSION (R1)   O3      -2.40  21 S   -0.50   (-2.40 x 0.21 = -0.504)
==  ===========================  =====  ======  =====  ======

21 %: 7.39 + 4.25 - 2.40 = 9.24 excluding VAT, 1.55 + 0.89 - 0.50 = 1.94 VAT.
 0 %: -59.98 + 3.90 + 19.99 = -36.09, no VAT.
Total: 9.24 - 36.09 = -26.85 excluding VAT, 1.94 VAT, -24.91 including VAT (bol owes the seller 24.91).
"""

from __future__ import annotations

import copy
from typing import Any

INVOICE_ID = "4500000001"
ISSUED_MS = 1772319600000  # 2026-03-01T00:00:00+01:00
PERIOD_START_MS = 1771196400000  # 2026-02-16T00:00:00+01:00
PERIOD_END_MS = 1772233200000  # 2026-02-28T00:00:00+01:00
JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: (charge type, order, item, EAN, rma, quantity, amount, rate, category, VAT)
LINES: list[tuple[str, str, str | None, str | None, str | None, int, float, float, str, float]] = [
    ("TURNOVER", "O1", "I1", "8712345678906", None, 2, -59.98, 0.0, "O", 0.0),
    ("COMMISSION", "O1", "I1", "8712345678906", None, 2, 7.39, 21.0, "S", 1.55),
    ("SHIPMENT_LABEL", "O1", None, None, None, 1, 4.25, 21.0, "S", 0.89),
    ("SHIPMENT_LABEL_POST", "O2", None, None, None, 1, 3.90, 0.0, "E", 0.0),
    ("CORRECTION_TURNOVER", "O3", "I3", "8712345678913", "R1", 1, 19.99, 0.0, "O", 0.0),
    ("CORRECTION_COMMISSION", "O3", "I3", "8712345678913", "R1", 1, -2.40, 21.0, "S", -0.50),
]


def amount(value: float) -> dict[str, Any]:
    return {"value": value, "currencyID": "EUR"}


def line(number: int, fields: tuple[Any, ...] = (), **changes: Any) -> dict[str, Any]:
    """Specification line ``number`` (1-based) of the invoice, as a v6 Python client reads it."""
    charge, order, item, ean, rma, quantity, value, rate, category, vat = fields or LINES[number - 1]
    links = [("orderId", order), ("ean", ean), ("orderItemId", item), ("rmaId", rma)]
    properties = [{"Name": {"value": k}, "Value": {"value": v}} for k, v in links if v is not None]
    properties.append({"Name": {"value": "transactionDate"}, "Value": {"value": "2026-02-20T14:03:00+01:00"}})
    found: dict[str, Any] = {
        "id": f"{order}#{ean or ''}#{charge}",
        "invoiceLineRef": f"{INVOICE_ID}-{number:05d}",
        "invoicedQuantity": {"value": quantity, "unitCode": "C62"},
        "lineExtensionAmount": amount(value),
        "taxTotal": {"TaxAmount": amount(vat)},
        "price": {"PriceAmount": amount(round(value / quantity, 2)), "BaseQuantity": {"value": 1, "unitCode": "C62"}},
        "item": {
            "Name": {"value": charge},
            "Description": [{"value": charge.title()}],
            "AdditionalItemProperty": properties,
            "ClassifiedTaxCategory": [
                {"ID": {"value": category}, "Percent": {"value": rate}, "TaxScheme": {"ID": {"value": "VAT"}}}
            ],
        },
    }
    found.update(changes)
    return found


def lines() -> list[dict[str, Any]]:
    return [line(n) for n in range(1, len(LINES) + 1)]


def list_entry(**changes: Any) -> dict[str, Any]:
    """The invoice's ``invoiceListItems`` entry."""
    found: dict[str, Any] = {
        "invoiceId": INVOICE_ID,
        "invoiceMediaTypes": {"availableMediaTypes": [JSON, "application/pdf"]},
        "invoiceType": "ALL_IN_ONE",
        "issueDate": ISSUED_MS,
        "invoicePeriod": {"startDate": PERIOD_START_MS, "endDate": PERIOD_END_MS},
        "legalMonetaryTotal": {
            "lineExtensionAmount": {"amount": -26.85, "currencyID": "EUR"},
            "payableAmount": {"amount": -24.91, "currencyID": "EUR"},
            "taxExclusiveAmount": {"amount": -26.85, "currencyID": "EUR"},
            "taxInclusiveAmount": {"amount": -24.91, "currencyID": "EUR"},
        },
        "specificationMediaTypes": {"availableMediaTypes": [JSON, XLSX]},
        "openAmount": -24.91,
    }
    found.update(changes)
    return found


def detail(**changes: Any) -> dict[str, Any]:
    """The invoice as UBL JSON (``GET /retailer/invoices/{id}``)."""
    found: dict[str, Any] = {
        "ID": INVOICE_ID,
        "IssueDate": "2026-03-01",
        "InvoiceTypeCode": {"value": "380", "listID": "UNCL1001"},
        "DocumentCurrencyCode": "EUR",
        "InvoicePeriod": {"StartDate": "2026-02-16", "EndDate": "2026-02-28"},
        "TaxTotal": {
            "TaxAmount": amount(1.94),
            "TaxSubtotal": [
                {"TaxableAmount": amount(9.24), "TaxAmount": amount(1.94), "TaxCategory": {"ID": "S", "Percent": 21}},
                {"TaxableAmount": amount(3.90), "TaxAmount": amount(0), "TaxCategory": {"ID": "E", "Percent": 0}},
                {"TaxableAmount": amount(-39.99), "TaxAmount": amount(0), "TaxCategory": {"ID": "O", "Percent": 0}},
            ],
        },
        "LegalMonetaryTotal": {
            "LineExtensionAmount": amount(-26.85),
            "TaxExclusiveAmount": amount(-26.85),
            "TaxInclusiveAmount": amount(-24.91),
            "PayableAmount": amount(-24.91),
        },
    }
    found.update(changes)
    return copy.deepcopy(found)


def document(**changes: Any) -> dict[str, Any]:
    """What the extract stages of the invoice once it read it."""
    found: dict[str, Any] = {
        "invoiceId": INVOICE_ID,
        "specification": "read",
        "lines": lines(),
        "detail": detail(),
        "read_at": "2026-03-02T08:00:00+00:00",
    }
    found.update(changes)
    return found
