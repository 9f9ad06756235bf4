"""Load: the staged invoices into ``bol.invoices`` and ``bol.invoice_lines``, in one transaction.

Each listed invoice the extract read becomes what ``transform.assess`` says; the rest of the listed invoices are
known complete and only get what the list says is still open of them (``open_amount``, refreshed when a newer
listing says otherwise). Keys: ``spec.INVOICES`` and ``spec.INVOICE_LINES``. An invoice row is replaced only by a
read at least as new (``read_at``) that really differs; the lines of an invoice are those of its newest read: the
lines of a read that adds up land, and stored lines it no longer names are removed, so an invoice's lines are
always one complete, reconciled specification (or none). Held invoices are kept in ``bol.quarantine`` (stream
``invoices``, key: the invoice id) and released in the same transaction once a read of them lands whole.
A rerun of the same answers changes no row.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from bolsync.invoices import documents
from bolsync.invoices.documents import Listed
from bolsync.invoices.extract import DOCUMENTS_FILE, HELD, LIST_FILE
from bolsync.invoices.spec import INVOICE_LINES, INVOICES, STREAM
from bolsync.invoices.transform import LATEST_DATE, assess, invoice_frame, line_frame, open_amount_frame
from bolsync.runs.quarantine import TABLE as QUARANTINE
from bolsync.runs.quarantine import InvalidRecord, Quarantine, Rejected
from bolsync.runs.staging import read_ndjson
from bolsync.warehouse.base import UpsertCounts, Warehouse
from bolsync.warehouse.lineage import Lineage

log = logging.getLogger(__name__)

INSERTED_ONLY = {"first_synced_at": "now()"}
_NO_LINES = pd.DataFrame({c: pd.Series([], dtype="string") for c in INVOICE_LINES.key})
JSON_COLUMNS = frozenset({"extra", "vat_by_rate"})
#: Columns of an invoice row a newer read replaces; the open amount follows the listings instead.
LISTING_COLUMNS = ("open_amount", "open_amount_at")


@dataclass
class InvoicesLoaded:
    """What one load did."""

    invoices: UpsertCounts = field(default_factory=UpsertCounts)
    lines: UpsertCounts = field(default_factory=UpsertCounts)
    #: Stored lines removed: a newer read of their invoice no longer names them.
    lines_removed: int = 0
    held: list[Rejected] = field(default_factory=list)
    released: int = 0
    #: Invoices read in this load, by the status they landed with.
    statuses: Counter[str] = field(default_factory=Counter)
    empty_periods: list[str] = field(default_factory=list)


def stored_states(conn: Warehouse, retailer_id: str, invoice_ids: Iterable[str]) -> dict[str, str]:
    """The stored ``specification_status`` of each of ``invoice_ids`` the warehouse has; ``held`` for those held
    in the quarantine (a read of them did not land)."""
    wanted = pd.DataFrame({"invoice_id": sorted(set(invoice_ids))}, dtype="string")
    if wanted.empty:
        return {}
    with conn.staged(wanted, INVOICES.name) as ids:
        stored = conn.query(
            f"SELECT i.invoice_id, i.specification_status FROM {INVOICES.name} i JOIN {ids} w USING (invoice_id) "
            "WHERE i.retailer_id = ?",
            [retailer_id],
        )
        held = conn.query(
            f"SELECT q.record_key FROM {QUARANTINE} q JOIN {ids} w ON w.invoice_id = q.record_key "
            "WHERE q.stream = ? AND q.retailer_id = ? AND q.released_at IS NULL",
            [STREAM, retailer_id],
        )
    states = {str(invoice_id): str(status) for invoice_id, status in stored}
    states.update({str(key): HELD for (key,) in held})
    return states


def load_invoices(
    conn: Warehouse,
    retailer_id: str,
    staging: Path,
    lineage: Lineage,
    quarantine: Quarantine | None = None,
) -> InvoicesLoaded:
    """Merge what the extract staged in ``staging`` (see the module docstring)."""
    listed_at = lineage.extracted_at
    result = InvoicesLoaded()
    entries, rejected = _entries(staging, listed_at, result)
    staged_documents = {str(d["invoiceId"]): d for d in read_ndjson(staging / DOCUMENTS_FILE)}
    assessed = [assess(entries[i], d, listed_at) for i, d in staged_documents.items() if i in entries]
    result.held = rejected + [a.held for a in assessed if a.held is not None]
    result.statuses = Counter(a.status or "held whole" for a in assessed)
    invoices = invoice_frame(retailer_id, [a.row for a in assessed if a.row is not None])
    open_amounts = open_amount_frame(retailer_id, entries.values(), listed_at)
    with conn.transaction():
        result.invoices = merge_invoices(conn, invoices, lineage)
        current = _current_reads(conn, invoices)
        lines = line_frame(retailer_id, [(a.invoice_id, a.lines) for a in assessed if a.invoice_id in current])
        result.lines, result.lines_removed = replace_lines(conn, retailer_id, current, lines, lineage)
        result.invoices.updated += refresh_open_amounts(conn, open_amounts, lineage)
        if quarantine is not None:
            landed = {a.invoice_id for a in assessed if a.landed_whole and a.invoice_id in current}
            result.released = quarantine.settle(conn, result.held, landed).released
    log.info(
        "Invoices of retailer %s: invoices +%d/~%d, lines +%d/~%d/-%d; read: %s; %d held in the quarantine, "
        "%d released.",
        retailer_id,
        result.invoices.inserted,
        result.invoices.updated,
        result.lines.inserted,
        result.lines.updated,
        result.lines_removed,
        ", ".join(f"{n} {status}" for status, n in sorted(result.statuses.items())) or "none",
        len(result.held),
        result.released,
    )
    return result


def _entries(staging: Path, listed_at: datetime, result: InvoicesLoaded) -> tuple[dict[str, Listed], list[Rejected]]:
    """The distinct invoices the staged periods list (the last listing of one winning), and the entries that
    cannot be right (held)."""
    entries: dict[str, Listed] = {}
    rejected: dict[str, Rejected] = {}
    for period in read_ndjson(staging / LIST_FILE):
        found = list(period.get("invoices") or [])
        if not found:
            result.empty_periods.append(f"{period.get('period_start')}..{period.get('period_end')}")
        for raw in found:
            try:
                entry = documents.listed(raw, listed_at.date() + LATEST_DATE)
            except InvalidRecord as error:
                held = Rejected.of(error, raw)
                rejected[held.key] = held
                continue
            entries[entry.invoice_id] = entry
            rejected.pop(entry.invoice_id, None)
    return entries, list(rejected.values())


def _changed(columns: Sequence[str]) -> str:
    """SQL: one of ``columns`` differs between the stored row ``t`` and the incoming ``excluded`` one."""
    return " OR ".join(
        f"CAST(t.{c} AS VARCHAR) IS DISTINCT FROM CAST(excluded.{c} AS VARCHAR)"
        if c in JSON_COLUMNS
        else f"t.{c} IS DISTINCT FROM excluded.{c}"
        for c in columns
    )


def merge_invoices(conn: Warehouse, frame: pd.DataFrame, lineage: Lineage | None = None) -> UpsertCounts:
    """Upsert invoice rows: a stored row is replaced by a read at least as new that differs in anything but
    when it was read; the open amount is left to :func:`refresh_open_amounts`."""
    if frame.empty:
        return UpsertCounts()
    version = INVOICES.version
    compared = [c for c in frame.columns if c not in (*INVOICES.key, version, *LISTING_COLUMNS)]
    sets = {c: f"excluded.{c}" for c in [*compared, version]}
    update_when = f"excluded.{version} >= t.{version} AND ({_changed(compared)})"
    inserted, updated = conn.merge(
        INVOICES.name,
        frame,
        INVOICES.key,
        inserted_only=INSERTED_ONLY,
        assignments=sets,
        update_when=update_when,
        lineage=lineage,
    )
    return UpsertCounts(inserted, updated)


def _current_reads(conn: Warehouse, frame: pd.DataFrame) -> set[str]:
    """The invoices of ``frame`` whose stored row is this read (no newer read of them is stored)."""
    if frame.empty:
        return set()
    keys = frame[[*INVOICES.key, "read_at"]]
    with conn.staged(keys, INVOICES.name) as reads:
        rows = conn.query(
            f"SELECT r.invoice_id FROM {reads} r JOIN {INVOICES.name} t "
            "ON t.retailer_id = r.retailer_id AND t.invoice_id = r.invoice_id WHERE t.read_at <= r.read_at"
        )
    return {str(invoice_id) for (invoice_id,) in rows}


def replace_lines(
    conn: Warehouse, retailer_id: str, invoice_ids: set[str], frame: pd.DataFrame, lineage: Lineage | None = None
) -> tuple[UpsertCounts, int]:
    """Make the stored lines of ``invoice_ids`` exactly ``frame``'s: upsert its rows, remove the others."""
    counts = UpsertCounts()
    if not frame.empty:
        values = [c for c in frame.columns if c not in INVOICE_LINES.key]
        inserted, updated = conn.merge(
            INVOICE_LINES.name,
            frame,
            INVOICE_LINES.key,
            inserted_only=INSERTED_ONLY,
            assignments={c: f"excluded.{c}" for c in values},
            update_when=_changed(values),
            lineage=lineage,
        )
        counts = UpsertCounts(inserted, updated)
    return counts, _remove_other_lines(conn, retailer_id, invoice_ids, frame)


def _remove_other_lines(conn: Warehouse, retailer_id: str, invoice_ids: set[str], frame: pd.DataFrame) -> int:
    if not invoice_ids:
        return 0
    keep = frame[list(INVOICE_LINES.key)] if not frame.empty else _NO_LINES
    ids = pd.DataFrame({"retailer_id": retailer_id, "invoice_id": sorted(invoice_ids)}, dtype="string")
    with conn.staged(ids, INVOICES.name) as invoices, conn.staged(keep, INVOICE_LINES.name) as kept:
        stale = f"""FROM {INVOICE_LINES.name} t WHERE t.retailer_id = ?
            AND t.invoice_id IN (SELECT invoice_id FROM {invoices})
            AND NOT EXISTS (SELECT 1 FROM {kept} k WHERE k.invoice_id = t.invoice_id AND k.line_key = t.line_key)"""
        removed = int(conn.query(f"SELECT count(*) {stale}", [retailer_id])[0][0])
        if removed:
            table = INVOICE_LINES.name
            conn.execute(
                f"""DELETE FROM {table} WHERE retailer_id = ?
                    AND invoice_id IN (SELECT invoice_id FROM {invoices})
                    AND NOT EXISTS (SELECT 1 FROM {kept} k
                        WHERE k.invoice_id = {table}.invoice_id AND k.line_key = {table}.line_key)""",
                [retailer_id],
            )
    return removed


def refresh_open_amounts(conn: Warehouse, frame: pd.DataFrame, lineage: Lineage | None = None) -> int:
    """Set what is still open of stored invoices where a listing at least as new says otherwise; how many rows
    changed."""
    if frame.empty:
        return 0
    marks = lineage.sql() if lineage else {}
    sets = ", ".join(
        [f"{c} = excluded.{c}" for c in LISTING_COLUMNS] + [f"{c} = {value}" for c, value in marks.items()]
    )
    with conn.staged(frame, INVOICES.name) as incoming:
        match = """t.retailer_id = excluded.retailer_id AND t.invoice_id = excluded.invoice_id
            AND (t.open_amount_at IS NULL OR t.open_amount_at <= excluded.open_amount_at)
            AND t.open_amount IS DISTINCT FROM excluded.open_amount"""
        changing = int(conn.query(f"SELECT count(*) FROM {INVOICES.name} t JOIN {incoming} excluded ON {match}")[0][0])
        if changing:
            conn.execute(f"UPDATE {INVOICES.name} AS t SET {sets} FROM {incoming} AS excluded WHERE {match}")
    return changing
