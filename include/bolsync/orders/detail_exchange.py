"""Order details shared by concurrent runs, so each new order costs one detail call whichever runs list it.

Runs whose windows overlap (backfill days running side by side, the hourly and the daily DAG) list the same
new orders at the same time, before either has loaded them. Before calling bol for a detail a run takes a
short lease on the order in the shared state (the rate budget's store, which every worker reaches); the
holder publishes the detail, without personal data, to a folder below the staging root (which every worker
mounts), and the others read it there. A holder that dies loses its lease after ``CLAIM_TTL_SECONDS``, and a
waiting run then takes the order over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bolsync.runs.staging import FOLDER_MODE, open_private, safe_segment
from bolsync_provider.budget.shared_state import SharedState
from bolsync_provider.errors import BolError
from bolsync_provider.hooks.bol_retailer import check_order_identity

log = logging.getLogger(__name__)

#: The folder below the staging root that holds published details, one file per order.
FOLDER = ".order_details"
#: How long a claim holds when its holder stops renewing it (a worker that died mid-call).
CLAIM_TTL_SECONDS = 120.0
#: How often a run waiting for another run's details looks again.
POLL_SECONDS = 0.25
#: A run waits at most this long for details another run claimed, then fetches them itself.
MAX_WAIT_SECONDS = 900.0
#: Published details are kept this long: for the runs extracting at the same time, and for those extracting
#: while the publishing run has not loaded yet (later runs find the order in the warehouse).
KEEP_FOR = timedelta(minutes=30)

_NOT_FOUND = {"bolsync_detail_not_found": True}


@dataclass(frozen=True)
class Detail:
    """One order's detail as a run got it: ``order`` is None when bol answered 404."""

    order_id: str
    order: dict[str, Any] | None
    #: True when this run called bol for it; False when another run's published detail was used.
    fetched: bool


class DetailExchange:
    """Claims and published details of one retailer's orders bound for one warehouse (see the module docstring).

    ``warehouse`` names the warehouse the runs load into (no secret in it): only runs filling the same
    warehouse share details, so a run for another warehouse never skips an order that warehouse lacks.
    """

    def __init__(
        self,
        root: Path,
        state: SharedState,
        retailer_id: str,
        *,
        warehouse: str = "",
        claim_ttl: float = CLAIM_TTL_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        scope = hashlib.sha256(warehouse.encode("utf-8")).hexdigest()[:16]
        self.folder = published_folder(root, warehouse, retailer_id)
        self._state = state
        self._lease_prefix = f"order-detail:{scope}:{retailer_id}"
        self._holder = uuid.uuid4().hex
        self.claim_ttl = claim_ttl
        self.max_wait = max_wait

    def published(self, order_id: str) -> Detail | None:
        """The detail another run published for ``order_id``, or None when there is none (yet)."""
        try:
            with self._path(order_id).open(encoding="utf-8") as handle:
                body = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            log.info("Published detail of order %s not readable (%s); fetching it instead.", order_id, error)
            return None
        if body == _NOT_FOUND:
            return Detail(order_id, None, fetched=False)
        try:
            check_order_identity(order_id, body if isinstance(body, dict) else {})
        except BolError as error:
            log.warning("Published detail of order %s not used: %s Fetching it instead.", order_id, error)
            return None
        return Detail(order_id, body, fetched=False)

    def claim(self, order_id: str) -> bool:
        """Take the order for this run unless another live run holds it."""
        return self._state.try_lease(self._lease(order_id), self._holder, self.claim_ttl)

    def release(self, order_id: str) -> None:
        self._state.release(self._lease(order_id), self._holder)

    def publish(self, order_id: str, order: dict[str, Any] | None) -> None:
        """Make ``order`` (personal data already removed; None for a 404) readable by every run.

        An order whose ``orderId`` is not ``order_id`` raises (``check_order_identity``) and is not published.
        """
        if order is not None:
            check_order_identity(order_id, order)
        self.folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        final = self._path(order_id)
        partial = final.with_name(f".{final.name}.{self._holder}")
        with os.fdopen(open_private(partial, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as handle:
            json.dump(_NOT_FOUND if order is None else order, handle, ensure_ascii=False, separators=(",", ":"))
        os.replace(partial, final)

    def sweep(self, now: datetime | None = None) -> int:
        """Remove details published over ``KEEP_FOR`` ago; returns how many. Never raises."""
        cutoff = (now or datetime.now(UTC)).timestamp() - KEEP_FOR.total_seconds()
        removed = 0
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in entries:
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed

    def _path(self, order_id: str) -> Path:
        return published_path(self.folder, order_id)

    def _lease(self, order_id: str) -> str:
        return f"{self._lease_prefix}:{order_id}"


def published_folder(root: Path, warehouse: str, retailer_id: str) -> Path:
    """Where the details of one retailer's orders bound for ``warehouse`` are published."""
    scope = hashlib.sha256(warehouse.encode("utf-8")).hexdigest()[:16]
    return root / FOLDER / scope / safe_segment(retailer_id, "retailer id")


def published_path(folder: Path, order_id: str) -> Path:
    return folder / f"{hashlib.sha256(order_id.encode('utf-8')).hexdigest()[:40]}.json"


def withdraw(root: Path, warehouse: str, retailer_id: str, order_ids: Iterable[str]) -> int:
    """Remove the published details of ``order_ids`` (the load held them in the quarantine), so the next run
    asks bol again instead of taking the same detail; how many were removed. Never raises."""
    folder = published_folder(root, warehouse, retailer_id)
    removed = 0
    for order_id in order_ids:
        try:
            published_path(folder, order_id).unlink()
            removed += 1
        except OSError:
            continue
    return removed


def exchanged_details(
    order_ids: Sequence[str],
    fetch: Callable[[str], dict[str, Any] | None],
    exchange: DetailExchange | None,
) -> Iterator[Detail]:
    """The detail of every order in ``order_ids``, each fetched once across the runs sharing ``exchange``.

    ``fetch`` calls bol and returns the order without personal data (None for a 404); what it returns is
    published. Orders another run holds are taken last, when that run has published them or its claim has
    lapsed; after ``exchange.max_wait`` seconds the rest are fetched regardless. Without an exchange every
    order is fetched.
    """
    if exchange is None:
        for order_id in order_ids:
            yield Detail(order_id, fetch(order_id), fetched=True)
        return
    exchange.sweep()
    waiting = list(order_ids)
    deadline: float | None = None
    while waiting:
        late = deadline is not None and time.monotonic() >= deadline
        still: list[str] = []
        for order_id in waiting:
            detail = _take(order_id, fetch, exchange, force=late)
            if detail is None:
                still.append(order_id)
            else:
                yield detail
        if still and deadline is None:
            log.info("%d orders are being fetched by another run; waiting for their details.", len(still))
            deadline = time.monotonic() + exchange.max_wait
        waiting = still
        if waiting:
            time.sleep(POLL_SECONDS)


def _take(
    order_id: str, fetch: Callable[[str], dict[str, Any] | None], exchange: DetailExchange, *, force: bool
) -> Detail | None:
    """The published detail, else the detail fetched under a claim; None while another run holds it."""
    detail = exchange.published(order_id)
    if detail is not None:
        return detail
    claimed = exchange.claim(order_id)
    if not claimed and not force:
        return None
    try:
        detail = exchange.published(order_id)  # published between the first look and the claim
        if detail is not None:
            return detail
        order = fetch(order_id)
        exchange.publish(order_id, order)
        return Detail(order_id, order, fetched=True)
    finally:
        if claimed:
            exchange.release(order_id)
