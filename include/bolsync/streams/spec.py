"""What a stream is, as data the shared machinery reads: one :class:`StreamSpec` per stream.

A stream declares its tables, how bol serves it (:class:`Replication`), its endpoints and their default limits,
the history bol keeps, the DAG that backfills it and its personal fields; its own package adds an extract and
a load function (:data:`ExtractFn`, :data:`LoadFn`) that the generic tasks (``streams.tasks``) run inside the
shared path: staging, audit, alerts, quarantine, coverage, assets, the raw archive and replay, lineage, metrics.
A spec module imports nothing heavy, so the registry (``streams.registry``) can be read anywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

from bolsync.warehouse.base import Table, UpsertCounts

if TYPE_CHECKING:
    from bolsync.runs.alerts import Alert
    from bolsync.runs.quarantine import Quarantine
    from bolsync.runs.windows import SyncWindow
    from bolsync.warehouse.base import Warehouse
    from bolsync.warehouse.connection import WarehouseTarget
    from bolsync.warehouse.lineage import Lineage
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook


class Replication(enum.StrEnum):
    """How bol serves a stream, and so what one run reads."""

    #: Filtered by the latest change's date or minute (orders): a run reads what changed in its window.
    CHANGE_WINDOW = "change_window"
    #: A full list of what is there now (offers, FBB stock): a run reads all of it; bol keeps no history.
    SNAPSHOT = "snapshot"
    #: Lists without a date filter, in a known order (returns, shipments): a run pages until a stop rule.
    LIST_SCAN = "list_scan"
    #: Documents per billing period (invoices): a run reads the periods its window names.
    BILLING_PERIOD = "billing_period"


#: ``history`` of a stream bol keeps nothing of: only its current state can be read.
NO_HISTORY = relativedelta()


@dataclass(frozen=True)
class Endpoint:
    """One bol endpoint a stream calls: its label (the budget's and the metrics' key, e.g. ``GET
    /retailer/returns``) and its page size (None: not paged)."""

    label: str
    page_size: int | None = None

    @property
    def limit(self) -> tuple[int, float]:
        """bol's limit (requests, seconds) as the provider knows it by default; a connection may override it."""
        from bolsync_provider.settings import DEFAULT_ENDPOINT_LIMITS

        return DEFAULT_ENDPOINT_LIMITS[self.label]


@dataclass(frozen=True)
class StreamSpec:
    """One stream, declared once (see the module docstring)."""

    name: str
    #: What it holds, for messages and docs ("returns and their processing results").
    title: str
    replication: Replication
    tables: tuple[Table, ...]
    endpoints: tuple[Endpoint, ...]
    #: How far back bol serves it: a period, :data:`NO_HISTORY`, or None (no documented limit).
    history: relativedelta | None
    #: The DAG whose backfill fills a hole (None: a hole cannot be filled; it is lost).
    backfill_dag: str | None
    #: Every DAG that syncs it (the first is the one people schedule).
    dags: tuple[str, ...]
    #: bol fields holding customer data: stored only for accounts that opt in (``personal``).
    personal_fields: tuple[str, ...] = ()
    #: What one row of ``bol.sync_coverage`` of this stream means.
    covered: str = "the run's window was synced"
    #: How much later than the next morning the run covering a day comes (a weekly stream: up to a week): the
    #: coverage check calls a day a hole only after that.
    coverage_lag: timedelta = timedelta()
    #: The module of the stream's own functions, imported on use: ``extract`` (:data:`ExtractFn`) and ``load``
    #: (:data:`LoadFn`), run by the generic tasks and by replay, ``estimate`` (:data:`PlanFn`, optional: the
    #: backfill planner's) and ``window`` (optional: the run's window from its context, e.g. a period its params
    #: name; by default its data interval). None: the stream has tasks of its own (offers: a deferrable export).
    module: str | None = None

    def oldest_served(self, now: datetime) -> date | None:
        """The oldest day bol still serves at ``now`` (None: no documented limit)."""
        from bolsync.runs.windows import AMSTERDAM

        if self.history is None:
            return None
        return now.astimezone(AMSTERDAM).date() - self.history

    @property
    def keeps_history(self) -> bool:
        """Whether a past day can still be read from bol (a hole can be backfilled)."""
        return self.history != NO_HISTORY and self.backfill_dag is not None

    def endpoint(self, label: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.label == label:
                return endpoint
        raise KeyError(f"stream {self.name} has no endpoint {label!r}")

    @property
    def asset_tables(self) -> tuple[str, ...]:
        return tuple(table.name for table in self.tables)


@dataclass(frozen=True)
class ExtractJob:
    """What a stream's extract gets: the account, its hook, the run's window and this attempt's staging folder
    (``earlier``: the folders of earlier attempts of the same run, whose staged data may be reused)."""

    context: Any
    spec: StreamSpec
    conn_id: str
    retailer_id: str
    hook: BolRetailerHook
    window: SyncWindow
    now: datetime
    staging: Path
    earlier: Sequence[Path]
    database: WarehouseTarget
    staging_root: Path
    params: Mapping[str, Any]
    #: The pseudonym key when the account opts in to personal data (stage it apart), else None (drop it).
    personal_secret: bytes | None = None


@dataclass
class Extracted:
    """What an extract did, small enough for XCom: its audit columns (``bol.sync_runs``), notes for the audit
    row, whether the window was read completely (False: the load does not record it as covered), and what its
    load needs besides the staged files (``info``, JSON-able)."""

    audit: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadJob:
    """What a stream's load gets: an open warehouse connection (the load opens its own transaction), the staged
    folder, the run's lineage and quarantine, and what the extract reported."""

    context: Any
    spec: StreamSpec
    conn_id: str
    retailer_id: str
    conn: Warehouse
    database: WarehouseTarget
    staging: Path
    window: SyncWindow
    lineage: Lineage
    quarantine: Quarantine
    extracted: Extracted
    params: Mapping[str, Any]


@dataclass
class Loaded:
    """What a load did: per table, the rows inserted and really changed; the records held in the quarantine;
    extra audit columns and notes; whether the window counts as covered; alerts to send once it committed."""

    tables: dict[str, UpsertCounts] = field(default_factory=dict)
    held: int = 0
    audit: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    alerts: list[Alert] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return sum(counts.inserted for counts in self.tables.values())

    @property
    def updated(self) -> int:
        return sum(counts.updated for counts in self.tables.values())


@dataclass(frozen=True)
class PlanJob:
    """What a stream's planner gets: the warehouse (read only), the account and the Dutch days to backfill."""

    conn: Warehouse
    spec: StreamSpec
    conn_id: str
    retailer_id: str
    first: date
    last: date
    now: datetime


@dataclass(frozen=True)
class CallEstimate:
    """What a backfill of some days would cost: API calls per endpoint label, and how they were estimated."""

    calls: dict[str, int]
    note: str

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def wall_seconds(self, limits: Mapping[str, tuple[int, float]], per_second: float) -> float:
        """The least time the calls take at ``limits`` (label -> requests, seconds) and the credential's rate:
        each endpoint's calls at its own limit, all of them at the credential's; the slowest bound."""
        bounds = [self.total / per_second if per_second > 0 else 0.0]
        for label, count in self.calls.items():
            if label in limits and count:
                requests, seconds = limits[label]
                bounds.append(max(0, count - requests) / requests * seconds)
        return max(bounds)


ExtractFn = Callable[[ExtractJob], Extracted]
LoadFn = Callable[[LoadJob], Loaded]
PlanFn = Callable[[PlanJob], CallEstimate]


def functions_of(spec: StreamSpec) -> Any:
    """The module of ``spec``'s own functions (see ``StreamSpec.module``); ValueError when it has none."""
    if spec.module is None:
        raise ValueError(f"stream {spec.name} runs tasks of its own, not the generic stream tasks")
    import importlib

    return importlib.import_module(spec.module)


def planner_of(spec: StreamSpec) -> PlanFn | None:
    """The stream's planner (its module's ``estimate``), or None."""
    if spec.module is None:
        return None
    estimate: PlanFn | None = getattr(functions_of(spec), "estimate", None)
    return estimate
