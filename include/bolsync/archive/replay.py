"""Replay: archived extracts of a date range re-transformed and reloaded, with no call to bol.

Every stream's extract runs unchanged on an :class:`ArchivedHook` (the same filtering, transform and load as its
DAG; orders also look up details another run fetched); offers go through the offers load of the DAG. Each
account's runs are replayed in the order of their windows and extract times, under the lineage of one replay
run (``replay__<time>``, its extract times those of the archived runs) and with one ``bol.sync_runs`` row per
account. Merges only write real changes, so a replay is idempotent.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bolsync.archive.location import ArchiveLocation
from bolsync.archive.reader import ArchivedAttempt, ArchivedHook, archived_attempts, attempts_near
from bolsync.runs.audit import record_sync_run
from bolsync.runs.windows import AMSTERDAM
from bolsync.streams import registry
from bolsync.streams.registry import STREAMS, stream_of_dag
from bolsync.streams.spec import StreamSpec
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from bolsync.warehouse.lineage import Lineage
from bolsync_provider.hooks.bol_retailer import OFFER_EXPORT_FILE_ENDPOINT, OFFERS_V11_ENDPOINT, ORDER_ENDPOINT

log = logging.getLogger(__name__)

#: How a replay confirms held mass deletions (see ``runs.evidence``).
CONFIRM_IN_REPLAY = (
    "replay the days again with --confirm-deletions: the replay then applies the deletions its lists show."
)
#: Order details another run fetched for a replayed one (the detail exchange of concurrent runs) are looked up
#: in the attempts archived this close to the replayed extract.
CONCURRENT_WITHIN = timedelta(days=1)


class ReplayError(Exception):
    """The archive cannot replay what was asked (a day without data, an unreadable attempt)."""


@dataclass(frozen=True)
class ReplayRun:
    """One archived run to replay: its newest complete attempt, and its other attempts (whose order details a
    retry reused instead of fetching them again)."""

    attempt: ArchivedAttempt
    siblings: tuple[ArchivedAttempt, ...]


@dataclass(frozen=True)
class AccountReplay:
    conn_id: str
    retailer_id: str
    runs: int
    counts: dict[str, int]


def stream_of(dag_id: str, stream: str | None = None) -> str:
    """The stream a DAG syncs: ``stream`` when given, else the one that names the DAG (``streams.registry``)."""
    if stream is not None:
        if stream not in STREAMS:
            raise ReplayError(f"no stream {stream!r}; the streams are {', '.join(STREAMS)}.")
        return stream
    spec = stream_of_dag(dag_id)
    if spec is None:
        raise ReplayError(f"DAG {dag_id!r} syncs none of the streams; pass --stream {'|'.join(STREAMS)}.")
    return spec.name


def plan_replay(
    location: ArchiveLocation, dag_id: str, first: date, last: date, conn_id: str | None = None
) -> list[ReplayRun]:
    """The archived runs of ``dag_id`` whose windows overlap the Amsterdam days ``first``..``last``, oldest
    window first; ReplayError naming the days (per account) the archive does not cover."""
    if last < first:
        raise ReplayError(f"--to {last} is before --from {first}.")
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    attempts = archived_attempts(location, dag_id, conn_id)
    newest: dict[tuple[str, str], ArchivedAttempt] = {}
    for attempt in attempts:
        if attempt.complete and attempt.window.start < end and attempt.window.end > start:
            newest[(attempt.run_id, attempt.conn_id)] = attempt  # sorted oldest first: the newest wins
    runs = [
        ReplayRun(chosen, tuple(a for a in attempts if (a.run_id, a.conn_id) == key and a is not chosen))
        for key, chosen in newest.items()
    ]
    accounts = {conn_id} if conn_id else {run.attempt.conn_id for run in runs}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if not accounts:
        raise ReplayError(
            f"the archive {location.root} has no complete extract of {dag_id} for any day of {first}..{last} "
            f"(missing: {', '.join(map(str, days))})."
        )
    missing = {
        account: [
            day
            for day in days
            if not _covered(_day_start(day), _day_start(day + timedelta(days=1)), runs_of(runs, account))
        ]
        for account in sorted(accounts)
    }
    gaps = {account: found for account, found in missing.items() if found}
    if gaps:
        named = "; ".join(f"{account}: {', '.join(map(str, found))}" for account, found in gaps.items())
        raise ReplayError(f"the archive {location.root} has no complete extract of {dag_id} for {named}.")
    return sorted(runs, key=lambda r: (r.attempt.window.start, r.attempt.extracted_at, r.attempt.conn_id))


def runs_of(runs: Sequence[ReplayRun], conn_id: str) -> list[ReplayRun]:
    return [run for run in runs if run.attempt.conn_id == conn_id]


def replay(
    target: WarehouseTarget,
    location: ArchiveLocation,
    dag_id: str,
    first: date,
    last: date,
    *,
    conn_id: str | None = None,
    stream: str | None = None,
    confirm_deletions: bool = False,
) -> list[AccountReplay]:
    """Replay ``first``..``last`` of ``dag_id`` from ``location`` into ``target`` (see the module docstring)."""
    kind = stream_of(dag_id, stream)
    runs = plan_replay(location, dag_id, first, last, conn_id)
    run_id = f"replay__{datetime.now(UTC).isoformat()}"
    replay_one: Callable[[WarehouseTarget, ReplayRun, Lineage], dict[str, int]]
    if kind == "orders":
        replay_one = lambda t, r, lin: _replay_orders(t, location, r, lin)  # noqa: E731
    elif kind == "offers":
        replay_one = lambda t, r, lin: _replay_offers(t, r, lin, confirm_deletions)  # noqa: E731
    else:
        replay_one = lambda t, r, lin: _replay_stream(t, r, lin, registry.stream(kind))  # noqa: E731
    done = []
    for index, account in enumerate(sorted({run.attempt.conn_id for run in runs})):
        mine = runs_of(runs, account)
        started, counts = datetime.now(UTC), dict[str, int]()
        audit: dict[str, Any] = {
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": "replay",
            "map_index": index,
            "try_number": 1,
            "conn_id": account,
            "retailer_id": mine[0].attempt.retailer_id,
            "window_start": _day_start(first),
            "window_end": _day_start(last + timedelta(days=1)),
            "queries": _truncate(f"replay of {len(mine)} archived runs: " + ", ".join(r.attempt.run_id for r in mine)),
            "api_calls": 0,
            "stream": kind,
        }
        try:
            for run in mine:
                lineage = Lineage(dag_id, run_id, run.attempt.extracted_at)
                for column, value in replay_one(target, run, lineage).items():
                    counts[column] = counts.get(column, 0) + value
        except Exception as error:
            _audit(
                target,
                {**audit, **counts, "status": "failed", "error": _truncate(f"{type(error).__name__}: {error}")},
                started,
            )
            raise
        _audit(target, {**audit, **counts, "status": "success"}, started)
        done.append(AccountReplay(account, str(audit["retailer_id"]), len(mine), counts))
    return done


def _replay_orders(
    target: WarehouseTarget, location: ArchiveLocation, run: ReplayRun, lineage: Lineage
) -> dict[str, int]:
    from bolsync.orders.extract import extract_orders
    from bolsync.orders.load import known_order_ids, load_staged_orders
    from bolsync.orders.spec import STREAM
    from bolsync.runs.quarantine import Quarantine

    attempt = run.attempt
    own = list(attempt.responses())
    reused = [r for sibling in run.siblings for r in sibling.responses() if r.get("endpoint") == ORDER_ENDPOINT]
    archived = {str(r["path"]).rsplit("/", 1)[-1] for r in [*own, *reused] if r.get("endpoint") == ORDER_ENDPOINT}
    hook = ArchivedHook(attempt.conn_id, attempt.retailer_id, [*own, *reused])
    lacking: set[str] = set()

    def known(retailer_id: str, order_ids: set[str]) -> set[str]:
        with connect_warehouse(target) as conn:
            stored = known_order_ids(conn, retailer_id, order_ids)
        wanted = order_ids - stored - archived
        if wanted:
            shared = _details_elsewhere(location, attempt, wanted)
            hook.archive.add(shared.values())
            archived.update(shared)
        lacking.update(order_ids - stored - archived)
        return stored | (order_ids - archived)

    with tempfile.TemporaryDirectory(prefix="bolsync-replay-") as folder:
        staging = Path(folder)
        extract_orders(hook, attempt.window, attempt.extracted_at, staging, known)
        if lacking:
            log.warning(
                "Run %s of %s: %d new orders have no archived detail (another run fetched it): their items get "
                "list data only; replay the run that fetched them too.",
                attempt.run_id,
                attempt.conn_id,
                len(lacking),
            )
        window = attempt.window
        quarantine = Quarantine(
            STREAM, attempt.conn_id, attempt.retailer_id, lineage.dag_id, lineage.run_id, window.start, window.end
        )
        with connect_warehouse(target) as conn:
            result = load_staged_orders(conn, attempt.retailer_id, staging, lineage=lineage, quarantine=quarantine)
    log.info(
        "Replayed run %s of %s: orders %s, items %s.", attempt.run_id, attempt.conn_id, result.orders, result.items
    )
    return {
        "orders_inserted": result.orders.inserted,
        "orders_updated": result.orders.updated,
        "items_inserted": result.items.inserted,
        "items_updated": result.items.updated,
        "quarantined": len(result.held),
    }


def _replay_stream(target: WarehouseTarget, run: ReplayRun, lineage: Lineage, spec: StreamSpec) -> dict[str, int]:
    """One archived run of a stream on the generic path: its own extract on an :class:`ArchivedHook` (every
    answer from the archive, no request to bol), then its own load. Customer data is never restored."""
    from bolsync.runs.quarantine import Quarantine
    from bolsync.streams.spec import ExtractJob, LoadJob, functions_of

    attempt = run.attempt
    functions = functions_of(spec)
    hook = ArchivedHook(attempt.conn_id, attempt.retailer_id, list(attempt.responses()))
    with tempfile.TemporaryDirectory(prefix="bolsync-replay-") as folder:
        staging = Path(folder)
        conn_id, retailer_id = attempt.conn_id, attempt.retailer_id
        extracted = functions.extract(
            ExtractJob(
                context=None, spec=spec, conn_id=conn_id, retailer_id=retailer_id, hook=hook, window=attempt.window,
                now=attempt.extracted_at, staging=staging, earlier=(), database=target, staging_root=staging, params={},
            )
        )  # fmt: skip
        quarantine = Quarantine(
            spec.name,
            attempt.conn_id,
            attempt.retailer_id,
            lineage.dag_id,
            lineage.run_id,
            attempt.window.start,
            attempt.window.end,
        )
        with connect_warehouse(target) as conn:
            loaded = functions.load(
                LoadJob(
                    context=None, spec=spec, conn_id=conn_id, retailer_id=retailer_id, conn=conn, database=target,
                    staging=staging, window=attempt.window, lineage=lineage, quarantine=quarantine,
                    extracted=extracted, params={},
                )
            )  # fmt: skip
    log.info("Replayed run %s of %s (%s): %s.", attempt.run_id, attempt.conn_id, spec.name, loaded.tables)
    return {"rows_inserted": loaded.inserted, "rows_updated": loaded.updated, "quarantined": loaded.held}


def _details_elsewhere(
    location: ArchiveLocation, attempt: ArchivedAttempt, wanted: set[str]
) -> dict[str, dict[str, Any]]:
    """Order id -> the archived detail response of ``wanted`` orders that another run fetched near the time of
    ``attempt`` (the detail exchange shares them between concurrent runs)."""
    found: dict[str, dict[str, Any]] = {}
    for other in attempts_near(location, attempt.retailer_id, attempt.extracted_at, CONCURRENT_WITHIN):
        if other.folder == attempt.folder:
            continue
        for response in other.responses():
            order_id = str(response.get("path", "")).rsplit("/", 1)[-1]
            if response.get("endpoint") == ORDER_ENDPOINT and order_id in wanted and order_id not in found:
                found[order_id] = response
        if len(found) == len(wanted):
            break
    return found


def _replay_offers(
    target: WarehouseTarget, run: ReplayRun, lineage: Lineage, confirm_deletions: bool
) -> dict[str, int]:
    from bolsync.offers.extract import snapshot_date
    from bolsync.offers.extracted import OffersExtracted
    from bolsync.offers.load_steps import load_in_transaction
    from bolsync.offers.spec import STREAM
    from bolsync.offers.transform import parse_export_csv, parse_v11_offers
    from bolsync.runs.evidence import DeletionThreshold
    from bolsync.runs.quarantine import Quarantine
    from bolsync.runs.values import latest_allowed

    attempt = run.attempt
    responses = list(attempt.responses())
    export = [r for r in responses if r.get("endpoint") == OFFER_EXPORT_FILE_ENDPOINT]
    pages = [r for r in responses if r.get("endpoint") == OFFERS_V11_ENDPOINT]
    not_after = latest_allowed(attempt.extracted_at)
    if export:
        rows, source, full = parse_export_csv(str(export[-1]["body"]), not_after), "export", True
    elif pages:
        offers = [offer for page in pages for offer in (page.get("body") or {}).get("offers") or []]
        full = "last-modified-date-time" not in (pages[0].get("params") or {})
        rows, source = parse_v11_offers(offers, not_after), "v11"
    else:
        raise ReplayError(f"the archived attempt {attempt.folder} holds no offer export and no v11 offer page.")
    window = attempt.window
    extracted = OffersExtracted(
        conn_id=attempt.conn_id,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        snapshot_date=snapshot_date(window.start).isoformat(),
        retailer_id=attempt.retailer_id,
        source=source,
        full=full,
        source_rows=rows.source_rows,
        extracted_at=attempt.extracted_at.isoformat(),
        listed_at=attempt.listed_at.isoformat(),
    )
    threshold = DeletionThreshold.configured()
    quarantine = Quarantine(
        STREAM, attempt.conn_id, attempt.retailer_id, lineage.dag_id, lineage.run_id, window.start, window.end
    )
    with connect_warehouse(target) as conn, conn.transaction():
        counts = load_in_transaction(
            conn, attempt.retailer_id, extracted, rows, confirm_deletions, lineage, threshold, quarantine
        )
    if counts.check is not None and counts.check.held:
        log.warning(
            "Run %s of %s: %s",
            attempt.run_id,
            attempt.conn_id,
            counts.check.message(attempt.retailer_id, CONFIRM_IN_REPLAY),
        )
    log.info("Replayed run %s of %s (%s): %s.", attempt.run_id, attempt.conn_id, source, counts)
    return {
        "offers_inserted": counts.inserted,
        "offers_updated": counts.updated,
        "offers_deleted": counts.deleted,
        "deletions_held": counts.held,
        "quarantined": len(rows.rejected),
    }


def _audit(target: WarehouseTarget, row: dict[str, Any], started: datetime) -> None:
    with connect_warehouse(target) as conn:
        record_sync_run(conn, {**row, "started_at": started, "finished_at": datetime.now(UTC)})


def _covered(start: datetime, end: datetime, runs: Sequence[ReplayRun]) -> bool:
    """Whether the runs' windows together cover [start, end)."""
    reached = start
    for window in sorted((run.attempt.window for run in runs), key=lambda w: w.start):
        if window.start > reached:
            break
        reached = max(reached, window.end)
    return reached >= end


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), AMSTERDAM)


def _truncate(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
