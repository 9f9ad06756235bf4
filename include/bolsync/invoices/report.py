"""Invoices bol offers no JSON specification of: recorded (``bol.invoices``, status ``xlsx_only`` or ``missing``)
and reported once, by an alert naming them; ``no_specification_reported_at`` says it went out."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from bolsync.invoices.spec import DAG_ID, INVOICES, STREAM
from bolsync.invoices.transform import MISSING, WITHOUT_SPECIFICATION, XLSX_ONLY
from bolsync.runs import alerts
from bolsync.runs.alerts import Alert, Delivery
from bolsync.warehouse.base import Warehouse

MAX_SHOWN = 20
WHY = {
    XLSX_ONLY: "bol offers its specification only as a spreadsheet (xlsx)",
    MISSING: "bol has no specification of it (none offered, or 404)",
}


def unreported(conn: Warehouse, retailer_id: str) -> list[tuple[str, str, Any]]:
    """(invoice id, status, issue date) of the retailer's invoices without JSON specification no alert named yet."""
    marks = ", ".join("?" for _ in WITHOUT_SPECIFICATION)
    rows = conn.query(
        f"SELECT invoice_id, specification_status, issue_date FROM {INVOICES.name} WHERE retailer_id = ? "
        f"AND specification_status IN ({marks}) AND no_specification_reported_at IS NULL "
        "ORDER BY issue_date, invoice_id",
        [retailer_id, *WITHOUT_SPECIFICATION],
    )
    return [(str(invoice_id), str(status), issued) for invoice_id, status, issued in rows]


def alert_for(conn_id: str, retailer_id: str, invoices: list[tuple[str, str, Any]]) -> Alert:
    """One message naming the invoices and what to do."""
    shown = "\n".join(
        f"- {i} (issued {issued or 'on an unknown date'}): {WHY[status]}" for i, status, issued in invoices
    )
    more = f"\n- ... and {len(invoices) - MAX_SHOWN} more" if len(invoices) > MAX_SHOWN else ""
    identity = hashlib.sha256("|".join(i for i, _, _ in invoices).encode()).hexdigest()[:20]
    return Alert(
        key=f"invoices-no-specification:{conn_id}:{retailer_id}:{identity}",
        subject=f"[bolsync] invoices of {conn_id}: {len(invoices)} without a JSON specification",
        body=(
            f"Connection: {conn_id}\nRetailer: {retailer_id}\nStream: {STREAM}\n\n"
            f"bol issued {len(invoices)} invoice(s) whose lines cannot be read as JSON. Each is recorded in "
            f"{INVOICES.name} with its totals (specification_status says why) but without lines, so "
            "bol.invoice_lines and what is built on it lack their charges:\n"
            + "\n".join(shown.splitlines()[:MAX_SHOWN])
            + more
            + "\n\nWhat to do:\n- Download the specification from the bol Seller Dashboard (Finance) if you need its "
            "lines now.\n- bolsync reads it by itself once bol lists it as JSON (every run that lists the invoice "
            f"again checks; to check now, trigger {DAG_ID} with period_start and period_end around its issue date).\n"
            "- This is reported once per invoice."
        ),
        conn_id=conn_id,
        stream=STREAM,
        retailer_id=retailer_id,
    )


def report_without_specification(
    conn: Warehouse, conn_id: str, retailer_id: str, context: Any, now: datetime
) -> str | None:
    """Alert the invoices without JSON specification no alert named yet; mark them once it went out. The audit
    note naming them, or None."""
    invoices = unreported(conn, retailer_id)
    if not invoices:
        return None
    delivery = alerts.deliver(alert_for(conn_id, retailer_id, invoices), context)
    if delivery in (Delivery.SENT, Delivery.DUPLICATE):
        ids = [i for i, _, _ in invoices]
        conn.execute(
            f"UPDATE {INVOICES.name} SET no_specification_reported_at = ? WHERE retailer_id = ? "
            f"AND no_specification_reported_at IS NULL AND invoice_id IN ({', '.join('?' for _ in ids)})",
            [now, retailer_id, *ids],
        )
    return f"{len(invoices)} invoice(s) without a JSON specification (recorded, no lines): " + ", ".join(
        f"{i} ({status})" for i, status, _ in invoices[:MAX_SHOWN]
    )
