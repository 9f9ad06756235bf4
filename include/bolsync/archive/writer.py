"""Writes one extract attempt's data responses to the archive: gzip NDJSON lines, and its manifest.

A line is ``{"endpoint", "path", "params", "received_at", "body"}``. Customer data follows the warehouse
policy: unless the account opted in (``personal``), order and return bodies are archived without it
(``without_personal_data`` of each stream); an opted-in account's archive is marked ``personal`` in its manifest
and purged as its personal-data retention says (``purge``).
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bolsync.archive.location import MANIFEST_FILE, RESPONSES_FILE, ArchiveLocation
from bolsync.orders.transform import without_personal_data
from bolsync.returns.entries import without_personal_body, without_personal_page
from bolsync.returns.spec import DETAIL_ENDPOINT as RETURN_ENDPOINT
from bolsync.returns.spec import LIST_ENDPOINT as RETURNS_ENDPOINT
from bolsync.runs.staging import staging_dir
from bolsync.shipments import entries as shipment_entries
from bolsync.shipments.spec import DETAIL_ENDPOINT as SHIPMENT_ENDPOINT
from bolsync.shipments.spec import LIST_ENDPOINT as SHIPMENTS_ENDPOINT
from bolsync_provider.hooks.bol_retailer import ORDER_ENDPOINT, ORDERS_ENDPOINT, ApiResponse

#: The manifest's format; readers skip other versions.
FORMAT = 1
STAMP = "%Y%m%dT%H%M%S%fZ"


@dataclass(frozen=True)
class ArchiveRun:
    """Who archives: the task's DAG run, connection and try."""

    dag_id: str
    run_id: str
    conn_id: str
    try_number: int

    def folder(self, now: datetime) -> str:
        """``<dag>/<run>/<connection>/<UTC time>-try<N>-<random>`` (names sort by creation)."""
        run = staging_dir(Path("."), self.dag_id, self.run_id, self.conn_id)
        return f"{run.as_posix()}/{now.strftime(STAMP)}-try{self.try_number}-{secrets.token_hex(4)}"


class ResponseArchive:
    """The response sink of one extract attempt (thread-safe); :meth:`finish` marks it complete."""

    def __init__(self, location: ArchiveLocation, run: ArchiveRun, *, personal: bool) -> None:
        self._location = location
        self._personal = personal
        self._lock = threading.Lock()
        now = datetime.now(UTC)
        self.folder = location.make_folders(run.folder(now))
        self.manifest: dict[str, Any] = {
            "format": FORMAT,
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "conn_id": run.conn_id,
            "try_number": run.try_number,
            "personal": personal,
            "created_at": now.isoformat(),
            "complete": False,
            "responses": 0,
        }
        location.write_json(self._manifest_path, self.manifest)
        self._raw: IO[bytes] = location.open_write(location.path(self.folder, RESPONSES_FILE))
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb")

    @property
    def _manifest_path(self) -> str:
        return self._location.path(self.folder, MANIFEST_FILE)

    def __call__(self, response: ApiResponse) -> None:
        line = {
            "endpoint": response.endpoint,
            "path": response.path,
            "params": dict(response.params),
            "received_at": response.received_at.isoformat(),
            "body": response.body if self._personal else without_personal(response.endpoint, response.body),
        }
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        with self._lock:
            self._gzip.write(data)
            self.manifest["responses"] += 1

    def close(self) -> None:
        with self._lock:
            if not self._gzip.closed:
                self._gzip.close()
                self._raw.close()

    def finish(self, **details: Any) -> None:
        """Close the file and mark the attempt complete, with ``details`` (retailer, window, extract time)."""
        self.close()
        self.manifest.update(details, complete=True, finished_at=datetime.now(UTC).isoformat())
        self._location.write_json(self._manifest_path, self.manifest)


def without_personal(endpoint: str, body: Any) -> Any:
    """``body`` without customer data: order details and the orders of list pages as the warehouse keeps them,
    returns without their customers' details and comments, shipments without the shipment and billing details."""
    if endpoint == RETURNS_ENDPOINT:
        return without_personal_page(body)
    if endpoint == RETURN_ENDPOINT:
        return without_personal_body(body)
    if endpoint == SHIPMENTS_ENDPOINT:
        return shipment_entries.without_personal_page(body)
    if endpoint == SHIPMENT_ENDPOINT:
        return shipment_entries.without_personal_body(body)
    if endpoint == ORDER_ENDPOINT and isinstance(body, dict):
        return without_personal_data(body)
    if endpoint == ORDERS_ENDPOINT and isinstance(body, dict) and isinstance(body.get("orders"), list):
        orders = [without_personal_data(o) if isinstance(o, dict) else o for o in body["orders"]]
        return {**body, "orders": orders}
    return body
