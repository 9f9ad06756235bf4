"""The v10 offer export: ``POST /retailer/offers/export``, its process status and the CSV report."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bol_emulator import problems
from bol_emulator.model import amsterdam_iso
from bol_emulator.offer_faults import EXTRA_VALUE, replace_csv_values
from bol_emulator.offer_payloads import CSV_COLUMNS, csv_row
from bol_emulator.problems import V10_CSV, V10_CSV_UTF8, Response

if TYPE_CHECKING:
    from bol_emulator.app import Emulator, Request

ERRORS = {
    "FAILURE": "The offer export could not be created. Please try again later.",
    "TIMEOUT": "The offer export took too long to create.",
}


@dataclass
class ExportProcess:
    """One requested export: its process status and, on SUCCESS, its report (a snapshot of the offers)."""

    process_id: str
    client_id: str
    created_at: datetime
    started: float  # monotonic
    outcome: str  # the end state: SUCCESS, FAILURE or TIMEOUT
    report_id: str
    rows: list[dict[str, str]]
    polls: int = 0
    completed: float | None = None  # monotonic time the end state was first shown


class ExportBook:
    """Every export process and report; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.processes: dict[str, ExportProcess] = {}

    def reset(self) -> None:
        with self.lock:
            self.processes.clear()

    def create(self, client_id: str, rows: list[dict[str, str]], outcome: str, created_at: datetime) -> ExportProcess:
        process_id, report_id = str(uuid.uuid4()), str(uuid.uuid4())
        process = ExportProcess(process_id, client_id, created_at, self.clock(), outcome, report_id, rows)
        with self.lock:
            self.processes[process.process_id] = process
        return process

    def poll(
        self, client_id: str, process_id: str, pending_polls: int, pending_s: float, keep_s: float
    ) -> tuple[ExportProcess, str] | None:
        """The process and the status shown now (PENDING or its end state); None if unknown, another's or
        expired."""
        with self.lock:
            process = self.processes.get(process_id)
            now = self.clock()
            if process is None or process.client_id != client_id or self._expired(process, now, keep_s):
                return None
            process.polls += 1
            if process.completed is None:
                if process.polls <= pending_polls or now - process.started < pending_s:
                    return process, "PENDING"
                process.completed = now
            return process, process.outcome

    def report(self, client_id: str, report_id: str, keep_s: float) -> list[dict[str, str]] | None:
        """The rows of a finished, successful export of ``client_id`` that has not expired."""
        with self.lock:
            now = self.clock()
            for process in self.processes.values():
                if process.report_id == report_id and process.client_id == client_id:
                    done = process.completed is not None and process.outcome == "SUCCESS"
                    return process.rows if done and not self._expired(process, now, keep_s) else None
        return None

    @staticmethod
    def _expired(process: ExportProcess, now: float, keep_s: float) -> bool:
        return process.completed is not None and now - process.completed > keep_s


def status_body(base_url: str, process: ExportProcess, status: str) -> dict[str, Any]:
    """A ProcessStatus (``entityId`` only on SUCCESS, ``errorMessage`` on FAILURE/TIMEOUT) linking to itself
    under ``base_url``."""
    body: dict[str, Any] = {"processStatusId": process.process_id}
    if status == "SUCCESS":
        body["entityId"] = process.report_id
    body.update(
        {
            "eventType": "CREATE_OFFER_EXPORT",
            "description": "Create an offer export.",
            "status": status,
            "createTimestamp": amsterdam_iso(process.created_at),
            "links": [
                {"rel": "self", "href": f"{base_url}/shared/process-status/{process.process_id}", "method": "GET"}
            ],
        }
    )
    if status in ERRORS:
        body["errorMessage"] = ERRORS[status]
    return body


def request_export(app: Emulator, client_id: str, request: Request, instance: str) -> Response:
    """202 with a PENDING process status; 400 unless the body is ``{"format": "CSV"}``."""
    try:
        payload = json.loads(request.body or b"null")
    except ValueError:
        payload = None
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt != "CSV":
        reason = "Request contains invalid value(s): " + (f"'{fmt}', allowed values: CSV." if fmt else "missing.")
        return problems.bad_request([{"name": "format", "reason": reason}], instance)
    rows = app.world.with_offers(client_id, lambda offers: [csv_row(offer) for offer in offers])
    outcome = app.faults.offers.take_outcome(client_id) or "SUCCESS"
    process = app.exports.create(client_id, rows, outcome, app.world.clock.now())
    return problems.json_response(202, status_body(request.base_url, process, "PENDING"))


def process_status(app: Emulator, client_id: str, process_id: str, instance: str, base_url: str) -> Response:
    """The process status, or 404 when unknown or past its retention."""
    s = app.runtime
    shown = app.exports.poll(
        client_id, process_id, s.export_pending_polls, s.export_pending_seconds, s.process_status_retention
    )
    if shown is None:
        return problems.problem(404, f"Process status with id {process_id} not found.", instance)
    return problems.json_response(200, status_body(base_url, *shown))


def report(app: Emulator, client_id: str, report_id: str, instance: str) -> Response:
    """The CSV (header by column name), or a 404 Problem. Faults: ``csv_columns`` changes the layout,
    ``offer_value`` replaces values, ``short_list`` lists only the first offers, ``export_file`` serves a
    defective file."""
    rows = app.exports.report(client_id, report_id, app.runtime.process_status_retention)
    if rows is None:
        detail = f"Offer export with report id {report_id} not found."
        return problems.problem(404, detail, instance, content_type=V10_CSV)
    faults = app.faults.offers
    keep = faults.take_short_list(client_id)
    if keep is not None:
        rows = rows[:keep]
    layout = faults.layout(client_id)
    columns = layout.apply(CSV_COLUMNS, report_id) if layout else CSV_COLUMNS
    lines = [
        [row.get(column, EXTRA_VALUE) for column in columns]
        for row in replace_csv_values(rows, faults.overrides(client_id))
    ]
    defect = faults.take_defect(client_id)
    if defect == "header_only":
        lines = []
    elif defect == "short_row" and lines:
        lines[-1] = lines[-1][: max(1, len(columns) // 2)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(lines)
    body = out.getvalue().encode("utf-8")
    headers = {"Content-Type": V10_CSV_UTF8}
    if defect == "short_row" and lines:
        body = body.removesuffix(b"\n")  # the file ends inside its last line
    elif defect == "content_length":
        headers["Content-Length"] = str(len(body))  # announced in full, then the connection closes half-way
        body = body[: len(body) // 2]
    return Response(200, body, headers)
