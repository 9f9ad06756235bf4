"""``GET /retailer/invoices``, ``/retailer/invoices/{invoice-id}`` and ``/{invoice-id}/specification``.

The list names the invoices issued (Amsterdam issue date) within the requested period, by default the past 4
weeks (today minus 28 days up to today); both dates or neither, the start not after the end, at most 31 days
counting both ends (more answers 400, like bol). No paging. The detail answers JSON (UBL) or PDF, the
specification JSON or xlsx, a page of up to ``invoice_specification_page_size`` lines (25,000, bol's maximum,
unless the runtime setting says otherwise) and ``{}`` past the last page. Invoice ids are numeric: another
id answers 400, an unknown one 404. See :mod:`bol_emulator.invoice_payloads` for the JSON shapes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bol_emulator import invoice_files, problems, query_params
from bol_emulator.business import BusinessState
from bol_emulator.business_faults import BusinessFaults
from bol_emulator.invoice_payloads import (
    SPECIFICATION_MEDIA,
    XLSX,
    detail,
    list_item,
    period_text,
    specification_line,
)
from bol_emulator.invoices import Invoice, local_day
from bol_emulator.problems import V10_JSON, Response
from bol_emulator.world import World

V10_PDF = "application/vnd.retailer.v10+pdf"
V10_XLSX = "application/vnd.retailer.v10+openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_DAYS = 28
MAX_DAYS = 31
XLSX_HEADER = [
    "Factuurnummer",
    "Regelreferentie",
    "Type",
    "Omschrijving",
    "Bestelnummer",
    "Bestelregelnummer",
    "EAN",
    "Aantal",
    "Bedrag excl. btw",
    "Btw-percentage",
    "Btw-bedrag",
    "Datum",
]


def specification_media(faults: BusinessFaults, client_id: str, invoice_id: str) -> list[str]:
    mode = faults.specification_mode(client_id, invoice_id)
    return {"missing": [], "xlsx_only": [XLSX]}.get(mode or "", list(SPECIFICATION_MEDIA))


def list_invoices(
    world: World, client_id: str, params: dict[str, str], instance: str, faults: BusinessFaults
) -> Response:
    """The invoices issued in the period, or 400 with violations."""
    bad = query_params.Violations()
    start = query_params.iso_date(params, "period-start-date", bad)
    end = query_params.iso_date(params, "period-end-date", bad)
    given = [name for name in ("period-start-date", "period-end-date") if name in params]
    if len(given) == 1:
        missing = "period-end-date" if given == ["period-start-date"] else "period-start-date"
        bad.add(missing, f"{missing} is required together with {given[0]}.")
    if start and end and start > end:
        bad.add("period-end-date", f"The period end date {end} lies before the start date {start}.")
    elif start and end and (end - start).days + 1 > MAX_DAYS:
        bad.add("period-end-date", f"The period from {start} to {end} is longer than {MAX_DAYS} days.")
    if bad:
        return problems.bad_request(bad, instance)

    def read(state: BusinessState, now: datetime) -> dict[str, Any]:
        last = end or local_day(now)
        first = start or last - timedelta(days=DEFAULT_DAYS)
        chosen = sorted(
            (i for i in state.invoices.values() if first <= i.issue_date <= last),
            key=lambda i: (i.issue_date, i.invoice_id),
        )
        items = [list_item(i, now, specification_media(faults, client_id, i.invoice_id)) for i in chosen]
        return {"invoiceListItems": items, "period": period_text(first, last)}

    return problems.json_response(200, world.business.read(client_id, read))


def _find(world: World, client_id: str, invoice_id: str, instance: str) -> Invoice | Response:
    """The invoice, or the 400/404 Problem to answer."""
    if not invoice_id.isdigit():
        reason = f"Request contains invalid value(s): '{invoice_id}', must be numeric."
        return problems.bad_request([{"name": "invoice-id", "reason": reason}], instance)
    found = world.business.read(client_id, lambda state, _: state.invoices.get(invoice_id))
    if found is None:
        return problems.problem(404, f"Invoice for invoice id {invoice_id} not found.", instance)
    return found


def get_invoice(world: World, client_id: str, invoice_id: str, media: str, instance: str) -> Response:
    """The invoice as UBL JSON or PDF."""
    found = _find(world, client_id, invoice_id, instance)
    if isinstance(found, Response):
        return found
    retailer_id = world.account(client_id).config.retailer_id
    body = world.business.read(client_id, lambda state, _: detail(found, retailer_id))
    if media == V10_PDF:
        lines = [
            "bol.com B.V. - Factuur",
            f"Factuurnummer {found.invoice_id}, factuurdatum {found.issue_date.isoformat()}",
            f"Periode {found.period_start.isoformat()} t/m {found.period_end.isoformat()}",
            f"Totaal excl. btw EUR {found.total_excl_vat}",
            f"Btw EUR {found.total_vat}",
            f"Totaal incl. btw EUR {found.total_excl_vat + found.total_vat}",
        ]
        return Response(200, invoice_files.pdf(lines), {"Content-Type": V10_PDF})
    return problems.json_response(200, body)


def get_specification(
    world: World,
    client_id: str,
    invoice_id: str,
    params: dict[str, str],
    media: str,
    instance: str,
    faults: BusinessFaults,
    page_size: int,
) -> Response:
    """A page of the specification as JSON or xlsx; 404 for an invoice without one, 406 for JSON of an
    xlsx-only one."""
    bad = query_params.Violations()
    page = query_params.page(params, bad)
    if bad:
        return problems.bad_request(bad, instance, V10_JSON)
    found = _find(world, client_id, invoice_id, instance)
    if isinstance(found, Response):
        return found
    mode = faults.specification_mode(client_id, invoice_id)
    if mode == "missing":
        return problems.problem(404, f"Invoice specification for invoice id {invoice_id} not found.", instance)
    if mode == "xlsx_only" and media != V10_XLSX:
        return problems.not_acceptable(instance, V10_XLSX)
    shift = faults.shift(client_id, invoice_id)

    def read(state: BusinessState, _: datetime) -> list[dict[str, Any]]:
        first = (page - 1) * page_size
        lines = found.lines[first : first + page_size]
        return [
            specification_line(line, line.amount + shift if first + n == 0 and shift else None)
            for n, line in enumerate(lines)
        ]

    rows = world.business.read(client_id, read)
    if media == V10_XLSX:
        table = [
            [
                invoice_id,
                row["invoiceLineRef"],
                row["item"]["Name"]["value"],
                row["item"]["Description"][0]["value"],
                *(_property(row, name) for name in ("orderId", "orderItemId", "ean")),
                row["invoicedQuantity"]["value"],
                row["lineExtensionAmount"]["value"],
                row["item"]["ClassifiedTaxCategory"][0]["Percent"]["value"],
                row["taxTotal"]["TaxAmount"]["value"],
                _property(row, "transactionDate"),
            ]
            for row in rows
        ]
        return Response(200, invoice_files.xlsx(XLSX_HEADER, table), {"Content-Type": V10_XLSX})
    if not rows:
        return problems.empty_page()
    return problems.json_response(200, {"invoiceSpecification": rows})


def _property(row: dict[str, Any], name: str) -> str | None:
    found = (p["Value"]["value"] for p in row["item"]["AdditionalItemProperty"] if p["Name"]["value"] == name)
    return next(found, None)
