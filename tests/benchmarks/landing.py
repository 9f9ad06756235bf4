"""Benchmark: landing speed of the warehouse bulk merge, DuckDB and PostgreSQL, against ``DataFrame.to_sql``.

For each backend (DuckDB in a temporary file; PostgreSQL in a temporary database on the test server when
reachable), in one run:

- **order items**: 1,000,000 rows x 16 columns (``--items``) merged from pandas into the migrated, empty
  ``bol.order_items`` with the product's item merge (``bolsync.orders.load.upsert_order_items``: DuckDB scans
  the registered DataFrame, ``UPDATE ... FROM`` then an anti-join ``INSERT``; PostgreSQL probes the frame's
  keys and, all new, ``COPY``s it straight into the table as a chunk of ``load_staged_orders`` does, else
  ``COPY``s it into a TEMP table and merges with ``INSERT ... ON CONFLICT DO UPDATE ... WHERE newer``), in
  one transaction; then the same frame again with 10 % of the rows at a newer ``latest_changed_at`` (every
  row compared, 10 % updated, 90 % left alone by the "newer wins" rule);
- **offers**: 200,000 offers of one retailer (``--offers``, the export's 14 columns plus ``extra``) through
  the product's offer merge (``bolsync.offers.load.merged_list``, an incremental list: version-checked, no
  deletions, no snapshot) into ``bol.offers``, the same two merges;
- **new rows, the product against ADBC** (PostgreSQL, ``--encoders``): the new-rows merge of both tables
  again, into the emptied table: the product's (binary ``COPY`` encoded by pgpq from Arrow, in the product's
  transaction) and ADBC's (``adbc_ingest`` of the same rows, sorted, on a connection of its own: it cannot
  join the product's transaction nor ``insert_new``'s savepoint; measured where it is installed); rows/s and
  the ratio to the product's;
- **baseline**: ``DataFrame.to_sql`` through SQLAlchemy (``method=None``, ``duckdb-engine`` /
  ``psycopg2``) of the first ``--baseline-rows`` rows (default 50,000) into an empty table, rows/s;
- **memory**: the peak RSS of a separate process running ``load_staged_orders`` (streamed in chunks of
  5,000 orders, DuckDB at its default ``memory_limit``) on staged NDJSON of 25,000, 100,000 and 250,000
  orders (2 items each), from ``/proc/self/status`` VmHWM after the imports and after the load
  (``getrusage``'s ``ru_maxrss`` is inherited across ``exec`` on Linux, so it is only a fallback).

Every figure is the median of ``--runs`` runs (default 3; each run a fresh warehouse, its own baseline and
a fresh load process), the ratio that of the medians; ``landing.json`` keeps every run's figures too. Each
timed write (merges and baseline alike) starts on a settled machine: the kernel's dirty pages written out
and, on PostgreSQL, a ``CHECKPOINT`` where the role may issue one (see :func:`settle`).

Goals: merge >= 10x the baseline's rows/s; DuckDB >= 500k rows/s; PostgreSQL >= 200k rows/s; peak RSS
< 500 MB and within 15 % from 25,000 to 250,000 orders. Prints a table and writes ``landing.json`` to
``--out``, with the machine's load average at the start and the end.

Run: ``make bench`` or ``python -m tests.benchmarks.landing --out docs/bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _folder in ("include", "plugins"):
    if str(REPO / _folder) not in sys.path:
        sys.path.insert(0, str(REPO / _folder))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bolsync.warehouse.connection import Warehouse, WarehouseTarget, as_target, connect_warehouse  # noqa: E402

GOALS = {"ratio": 10.0, "duckdb": 500_000.0, "postgres": 200_000.0, "rss_mb": 500.0, "rss_growth": 1.15}

VERSIONS = {"order_items": "latest_changed_at", "offers": "mutation_date_time"}
SEEN_AT = datetime(2026, 11, 27, tzinfo=UTC)


def _ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    return pd.Series(numbers).astype(str).radd(prefix).astype("string")


def _pick(rng: np.random.Generator, choices: list[str], n: int) -> pd.Series:
    return pd.Series(np.asarray(choices, dtype=object)[rng.integers(0, len(choices), n)]).astype("string")


def order_items_frame(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` order-item rows, 16 columns, the dtypes the transform produces."""
    rng = np.random.default_rng(seed)
    number = np.arange(n)
    base = pd.Timestamp("2026-09-01", tz="UTC")
    prices = np.round(rng.uniform(1, 500, n), 2)
    quantity = rng.integers(1, 4, n)
    return pd.DataFrame(
        {
            "retailer_id": _ids("r", number % 3),
            "order_id": _ids("O", 10_000_000 + number // 2),
            "order_item_id": _ids("I", 20_000_000 + number),
            "ean": _ids("87", rng.integers(10**10, 10**11, n)),
            "quantity": pd.array(quantity, dtype="Int64"),
            "quantity_shipped": pd.array(rng.integers(0, 2, n), dtype="Int64"),
            "quantity_cancelled": pd.array(np.zeros(n, dtype=np.int64), dtype="Int64"),
            "fulfilment_method": _pick(rng, ["FBR", "FBB"], n),
            "fulfilment_status": _pick(rng, ["OPEN", "HANDLED"], n),
            "cancellation_request": pd.array(rng.random(n) < 0.02, dtype="boolean"),
            "latest_changed_at": (base + pd.to_timedelta(rng.integers(0, 86_400 * 80, n), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
            "unit_price": pd.array(prices, dtype="Float64"),
            "total_price": pd.array(np.round(prices * quantity, 2), dtype="Float64"),
            "commission": pd.array(np.round(prices * 0.12, 2), dtype="Float64"),
            "offer_id": _ids("8f1183e3-de98-c92f-e053-", rng.integers(0, 50_000, n)),
            "product_title": _pick(rng, [f"Product title number {k}, with a comma" for k in range(500)], n),
        }
    )


def offers_frame(n: int, seed: int = 8) -> pd.DataFrame:
    """``n`` offers of one retailer as the export transform leaves them (``OFFER_DTYPES`` plus ``extra``)."""
    rng = np.random.default_rng(seed)
    number = np.arange(n)
    base = pd.Timestamp("2026-09-01", tz="UTC")
    return pd.DataFrame(
        {
            "offer_id": _ids("of-", number),
            "ean": _ids("87", rng.integers(10**10, 10**11, n)),
            "condition_name": _pick(rng, ["NEW", "AS_NEW", "GOOD"], n),
            "condition_category": _pick(rng, ["NEW", "SECONDHAND"], n),
            "condition_comment": pd.array([None] * n, dtype="string"),
            "unit_price": pd.array(np.round(rng.uniform(1, 500, n), 2), dtype="Float64"),
            "fulfilment_delivery_code": _pick(rng, ["24uurs-23", "1-2d", "2-3d", "MijnLeverbelofte"], n),
            "stock_amount": pd.array(rng.integers(0, 100, n), dtype="Int64"),
            "corrected_stock": pd.array(rng.integers(0, 100, n), dtype="Int64"),
            "on_hold_by_retailer": pd.array(rng.random(n) < 0.1, dtype="boolean"),
            "fulfilment_type": _pick(rng, ["FBR", "FBB"], n),
            "mutation_date_time": (base + pd.to_timedelta(rng.integers(0, 86_400 * 80, n), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
            "reference_code": _ids("REF", number),
            "economic_operator_id": pd.array([None] * n, dtype="string"),
            "extra": pd.array(["{}"] * n, dtype="string"),
        }
    )


def newer_share(frame: pd.DataFrame, version: str, share: float = 0.1) -> pd.DataFrame:
    """The same rows, every 1/share-th one a day newer with a changed second column."""
    changed = frame.copy()
    rows = np.arange(len(frame)) % round(1 / share) == 0
    changed.loc[rows, version] = changed.loc[rows, version] + timedelta(days=1)
    return changed


@dataclass
class Merge:
    backend: str
    table: str
    rows: int
    columns: int
    insert_seconds: float
    update_seconds: float
    inserted: int
    updated: int
    baseline_rows: int = 0
    baseline_seconds: float = 0.0
    runs: int = 1

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.insert_seconds

    @property
    def update_rows_per_second(self) -> float:
        return self.rows / self.update_seconds

    @property
    def baseline_rows_per_second(self) -> float:
        return self.baseline_rows / self.baseline_seconds if self.baseline_seconds else 0.0

    @property
    def ratio(self) -> float:
        base = self.baseline_rows_per_second
        return self.rows_per_second / base if base else 0.0


@dataclass
class Rss:
    backend: str
    orders: int
    items: int
    after_imports_mb: float
    peak_mb: float
    seconds: float
    runs: int = 1


@dataclass
class Report:
    started: str
    machine: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    landings: list[Landing] = field(default_factory=list)
    rss: list[Rss] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@contextmanager
def backend_target(backend: str, folder: Path) -> Iterator[WarehouseTarget]:
    if backend == "duckdb":
        yield as_target(folder / "landing.duckdb")  # "bench.duckdb": catalog bench would shadow schema bench
        return
    from tests.support.warehouses import temporary_postgres_database

    with temporary_postgres_database("bolsync_bench") as url:
        yield as_target(url)


def settle(backend: str, raw: Any) -> None:
    """Before a timed write: ``sync`` the kernel's dirty pages, and on PostgreSQL ``CHECKPOINT`` where the role
    may. Otherwise the write-back of the previous figure's files (the DuckDB runs, a million rows) and the
    checkpoint its WAL triggers run during the next figure and are charged to it."""
    os.sync()
    if backend != "postgres":
        return
    import psycopg

    with suppress(psycopg.errors.InsufficientPrivilege):
        raw.execute("CHECKPOINT")


def _merge_once(warehouse: Warehouse, table: str, frame: pd.DataFrame) -> tuple[float, tuple[int, int]]:
    """One transaction of the product's merge of ``table`` (``order_items`` or ``offers``); seconds, counts."""
    from bolsync.offers.listing import OfferList
    from bolsync.offers.load import merged_list
    from bolsync.offers.transform import OfferRows
    from bolsync.orders.load import upsert_order_items

    settle(warehouse.backend, warehouse.raw)
    started = time.perf_counter()
    with warehouse.transaction():
        if table == "order_items":
            items = upsert_order_items(warehouse, frame)
            counts = (items.inserted, items.updated)
        else:
            listing = OfferList("export", False, SEEN_AT, SEEN_AT, SEEN_AT.date())
            with merged_list(warehouse, "r1", OfferRows(frame, list(frame.columns)), listing, {}) as offers:
                counts = (offers.inserted, offers.updated)
    return time.perf_counter() - started, counts


def bench_merges(backend: str, target: WarehouseTarget, frames: dict[str, pd.DataFrame], sample: int) -> list[Merge]:
    results = []
    with connect_warehouse(target) as warehouse:
        for table, version in VERSIONS.items():
            frame = frames[table]
            insert_seconds, (inserted, _) = _merge_once(warehouse, table, frame)
            update_seconds, (_, updated) = _merge_once(warehouse, table, newer_share(frame, version))
            assert inserted == len(frame), (backend, table, inserted)
            assert updated == int(np.ceil(len(frame) / 10)), (backend, table, updated)
            results.append(
                Merge(backend, table, len(frame), frame.shape[1], insert_seconds, update_seconds, inserted, updated)
            )
            print(
                f"  {backend} {table}: {len(frame):,} rows merged in {insert_seconds:.2f} s "
                f"(10 % newer: {update_seconds:.2f} s)",
                flush=True,
            )
    for merge in results:
        merge.baseline_rows, merge.baseline_seconds = baseline(target, merge.table, frames[merge.table].head(sample))
        print(
            f"  {backend} {merge.table}: to_sql baseline {merge.baseline_rows:,} rows in "
            f"{merge.baseline_seconds:.2f} s",
            flush=True,
        )
    return results


def median_merge(runs: list[Merge]) -> Merge:
    """Per figure, the median of ``runs`` (one backend and table)."""
    first = runs[0]

    def median(name: str) -> float:
        return float(statistics.median(getattr(run, name) for run in runs))

    return Merge(
        first.backend,
        first.table,
        first.rows,
        first.columns,
        median("insert_seconds"),
        median("update_seconds"),
        first.inserted,
        first.updated,
        first.baseline_rows,
        median("baseline_seconds"),
        len(runs),
    )


def median_rss(runs: list[Rss]) -> Rss:
    first = runs[0]
    return Rss(
        first.backend,
        first.orders,
        first.items,
        float(statistics.median(r.after_imports_mb for r in runs)),
        float(statistics.median(r.peak_mb for r in runs)),
        float(statistics.median(r.seconds for r in runs)),
        len(runs),
    )


# --- the new-rows COPY through maintained encoders (PostgreSQL) -----------------------------------------

#: Each way of landing the new rows: what it is, and whether it runs inside the product's transaction.
ENCODERS = {
    "product": ("the product's binary COPY (pgpq)", True),
    "adbc": ("ADBC adbc_ingest on its own connection", False),
}


@dataclass
class Landing:
    encoder: str
    table: str
    rows: int
    seconds: float
    runs: int = 1

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def bench_encoders(target: WarehouseTarget, frames: dict[str, pd.DataFrame], encoders: list[str]) -> list[Landing]:
    """The new-rows merge of each table into the emptied table, once per encoder: the product's (``insert_new``:
    probe, savepoint, key-sorted binary ``COPY`` in the product's transaction) and ADBC's ``adbc_ingest`` of the
    same rows on a connection of its own."""
    results = []
    with connect_warehouse(target) as warehouse:
        for table in VERSIONS:
            frame = frames[table]
            for encoder in encoders:
                warehouse.execute(f"TRUNCATE bol.{table}")
                if encoder == "adbc":
                    seconds, inserted = _adbc_once(warehouse, target, table, frame)
                else:
                    seconds, (inserted, _) = _merge_once(warehouse, table, frame)
                assert inserted == len(frame), (encoder, table, inserted)
                assert warehouse.scalar(f"SELECT count(*) FROM bol.{table}") == len(frame)
                results.append(Landing(encoder, table, len(frame), seconds))
                print(f"  postgres {table} new rows via {encoder}: {seconds:.2f} s", flush=True)
    return results


def _adbc_once(warehouse: Warehouse, target: WarehouseTarget, table: str, frame: pd.DataFrame) -> tuple[float, int]:
    """``adbc_ingest`` (append) of the rows the product's new-rows merge stores, sorted by key, committed;
    timed from the pandas frame (its constants, the key sort and the conversion to Arrow included)."""
    import adbc_driver_postgresql.dbapi as adbc

    from bolsync.offers.listing import OfferList
    from bolsync.offers.load import offer_rows
    from bolsync.offers.transform import latest_per_offer
    from bolsync.orders.load import INSERTED_ONLY
    from bolsync.warehouse.pg_arrow import arrow_converter
    from bolsync.warehouse.postgres_warehouse import _sorted_positions

    name = f"bol.{table}"
    key = ["retailer_id", "order_item_id"] if table == "order_items" else ["retailer_id", "offer_id"]
    with adbc.connect(str(target.dsn)) as ingest:
        settle("postgres", warehouse.raw)
        started = time.perf_counter()
        if table == "order_items":
            rows = frame.assign(**warehouse._constant_columns(INSERTED_ONLY, frame.index))  # type: ignore[attr-defined]
        else:
            listing = OfferList("export", False, SEEN_AT, SEEN_AT, SEEN_AT.date())
            rows = offer_rows("r1", latest_per_offer(frame), list(frame.columns), listing)
        rows = rows.take(_sorted_positions(rows, key))
        convert = arrow_converter(rows, warehouse._column_types(name, list(rows.columns)))  # type: ignore[attr-defined]
        assert convert is not None, table
        with ingest.cursor() as cursor:
            inserted = cursor.adbc_ingest(table, convert(rows), mode="append", db_schema_name="bol")
        ingest.commit()
        return time.perf_counter() - started, int(inserted if inserted and inserted > 0 else len(rows))


def median_landing(runs: list[Landing]) -> Landing:
    first = runs[0]
    return Landing(first.encoder, first.table, first.rows, float(statistics.median(r.seconds for r in runs)), len(runs))


def baseline(target: WarehouseTarget, table: str, sample: pd.DataFrame) -> tuple[int, float]:
    """``DataFrame.to_sql`` (SQLAlchemy, ``method=None``) into an empty table of the same shape."""
    import sqlalchemy as sa

    if target.backend == "duckdb":
        url = f"duckdb:///{target.path}"
    else:
        url = "postgresql+psycopg2://" + str(target.dsn).split("://", 1)[1]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS bench"))
            conn.execute(sa.text(f"DROP TABLE IF EXISTS bench.baseline_{table}"))
        if target.backend == "postgres":
            import psycopg

            with psycopg.connect(str(target.dsn), autocommit=True) as raw:
                settle("postgres", raw)
        else:
            settle(target.backend, None)
        started = time.perf_counter()
        sample.to_sql(f"baseline_{table}", engine, schema="bench", if_exists="append", index=False, method=None)
        return len(sample), time.perf_counter() - started
    finally:
        engine.dispose()


# --- memory of a streamed load ------------------------------------------------------------------------

RSS_CHILD = """
import json, resource, sys, time
from pathlib import Path
from bolsync.orders.load import load_staged_orders
from bolsync.warehouse.connection import connect_warehouse

def mb():
    # VmHWM, the peak RSS of this process image: getrusage's ru_maxrss survives exec and would report the
    # parent's peak (the benchmark holds 1M-row frames) instead of this process's own.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

target, retailer, staging = sys.argv[1:4]
with connect_warehouse(target) as conn:
    before = mb()
    started = time.perf_counter()
    result = load_staged_orders(conn, retailer, Path(staging))
print(json.dumps({"after_imports_mb": before, "peak_mb": mb(), "seconds": time.perf_counter() - started,
                  "orders": result.orders.inserted, "items": result.items.inserted}))
"""


def stage_orders(folder: Path, orders: int) -> Path:
    """Staged NDJSON as an extract leaves it: full orders (2 items each) and the list pages."""
    folder.mkdir(parents=True, exist_ok=True)
    placed = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with (folder / "order_details.ndjson").open("w") as details, (folder / "order_list.ndjson").open("w") as listed:
        for n in range(orders):
            order_id = str(3_000_000_000 + n)
            changed = (placed + timedelta(seconds=n)).isoformat()
            items: list[dict[str, Any]] = [
                {
                    "orderItemId": f"{order_id}{k}",
                    "cancellationRequest": False,
                    "fulfilment": {"method": "FBB", "latestDeliveryDate": "2026-11-22", "expiryDate": "2026-11-25"},
                    "offer": {"offerId": f"8f1183e3-de98-c92f-e053-{n % 5000:012d}", "reference": f"REF{n % 5000}"},
                    "product": {"ean": f"87{n % 10**11:011d}", "title": f"Product {n % 500}"},
                    "quantity": 1,
                    "quantityShipped": 0,
                    "quantityCancelled": 0,
                    "unitPrice": 19.99,
                    "totalPrice": 19.99,
                    "commission": 2.21,
                    "latestChangedDateTime": changed,
                }
                for k in range(2)
            ]
            detail = {
                "orderId": order_id,
                "pickUpPoint": False,
                "orderPlacedDateTime": placed.isoformat(),
                "shipmentDetails": {"countryCode": "NL"},
                "orderItems": items,
            }
            details.write(json.dumps(detail) + "\n")
            reduced = [
                {
                    "orderItemId": i["orderItemId"],
                    "ean": i["product"]["ean"],
                    "fulfilmentMethod": "FBB",
                    "fulfilmentStatus": "OPEN",
                    "quantity": 1,
                    "quantityShipped": 0,
                    "quantityCancelled": 0,
                    "cancellationRequest": False,
                    "latestChangedDateTime": changed,
                }
                for i in items
            ]
            entry = {"orderId": order_id, "orderPlacedDateTime": detail["orderPlacedDateTime"], "orderItems": reduced}
            listed.write(json.dumps(entry) + "\n")
    return folder


def measure_merges(
    report: Report, backend: str, folder: Path, frames: dict[str, pd.DataFrame], args: argparse.Namespace
) -> list[Merge]:
    """``args.runs`` runs of :func:`bench_merges`, each in a fresh warehouse; [] when the backend is down."""
    merges: list[Merge] = []
    encoders = landing_encoders(report, args.encoders) if backend == "postgres" else []
    landings: list[Landing] = []
    for run in range(args.runs):
        try:
            with backend_target(backend, folder / f"merge-{run}") as target:
                if target.path is not None:
                    target.path.parent.mkdir(parents=True, exist_ok=True)
                merges += bench_merges(backend, target, frames, args.baseline_rows)
                if encoders:
                    landings += bench_encoders(target, frames, encoders)
        except BaseException as error:  # pytest.skip/fail from postgres_url() when the server is down
            if not isinstance(error, Exception) and type(error).__name__ not in ("Skipped", "Failed"):
                raise
            report.notes.append(f"{backend}: not measured ({type(error).__name__}: {error})")
            print(f"  {backend}: not measured: {error}", flush=True)
            return []
    report.runs += [{"kind": "merge", **asdict(m), "rows_per_second": m.rows_per_second} for m in merges]
    report.runs += [{"kind": "landing", **asdict(x), "rows_per_second": x.rows_per_second} for x in landings]
    report.landings += [
        median_landing([x for x in landings if (x.table, x.encoder) == (t, e)]) for t in VERSIONS for e in encoders
    ]
    return merges


def landing_encoders(report: Report, wanted: str) -> list[str]:
    """Of ``wanted`` (comma-separated :data:`ENCODERS`), the product's and those installed; [] when that
    leaves the product's alone."""
    encoders = []
    for encoder in (e for e in wanted.split(",") if e):
        try:
            if encoder == "adbc":
                import adbc_driver_postgresql.dbapi  # noqa: F401
        except ImportError as error:
            report.notes.append(f"postgres: new rows via {encoder} not measured ({error})")
            continue
        encoders.append(encoder)
    return encoders if len(encoders) > 1 else []


def measure_rss_run(backend: str, where: Path, staging: Path, orders: int) -> Rss:
    """One load process's :class:`Rss` in a fresh warehouse."""
    with backend_target(backend, where) as target:
        if target.path is not None:
            target.path.parent.mkdir(parents=True, exist_ok=True)
        return measure_rss(backend, target, staging, orders)


def measure_rss(backend: str, target: WarehouseTarget, staging: Path, orders: int) -> Rss:
    paths = [str(REPO), str(REPO / "include"), str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    where = str(target.path) if target.backend == "duckdb" else str(target.dsn)
    done = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, where, "9000001", str(staging)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"RSS child failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["orders"] == orders, out
    return Rss(backend, orders, out["items"], out["after_imports_mb"], out["peak_mb"], out["seconds"])


# --- report -------------------------------------------------------------------------------------------


def table(report: Report) -> str:
    lines = [
        "| backend | table | rows x cols | merge new | rows/s | merge 10% newer | rows/s | to_sql baseline "
        "| baseline rows/s | ratio | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in report.merges:
        speed_goal = GOALS[m.backend]
        ok = m.ratio >= GOALS["ratio"] and m.rows_per_second >= speed_goal
        lines.append(
            f"| {m.backend} | {m.table} | {m.rows:,} x {m.columns} | {m.insert_seconds:.2f} s "
            f"| {m.rows_per_second:,.0f} | {m.update_seconds:.2f} s | {m.update_rows_per_second:,.0f} "
            f"| {m.baseline_rows:,} rows, {m.baseline_seconds:.2f} s | {m.baseline_rows_per_second:,.0f} "
            f"| {m.ratio:.1f}x | {'met' if ok else 'MISSED'} (>= {speed_goal:,.0f}/s, >= 10x) |"
        )
    product = {x.table: x.seconds for x in report.landings if x.encoder == "product"}
    if report.landings:
        lines += ["", "| table | new rows via | in the product's transaction | rows | median | rows/s | vs product |"]
        lines.append("|---|---|---|---|---|---|---|")
        for x in report.landings:
            what, joins = ENCODERS[x.encoder]
            lines.append(
                f"| {x.table} | {x.encoder}: {what} | {'yes' if joins else 'no'} | {x.rows:,} | {x.seconds:.2f} s "
                f"| {x.rows_per_second:,.0f} | {product[x.table] / x.seconds:.2f}x |"
            )
    if report.rss:
        lines += ["", "| backend | orders staged | items | RSS after imports | peak RSS | load time |"]
        lines.append("|---|---|---|---|---|---|")
        for r in report.rss:
            lines.append(
                f"| {r.backend} | {r.orders:,} | {r.items:,} | {r.after_imports_mb:.0f} MB | {r.peak_mb:.0f} MB "
                f"| {r.seconds:.1f} s |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--offers", type=int, default=200_000)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    parser.add_argument("--rss-orders", default="25000,100000,250000", help="comma-separated; empty: skip")
    parser.add_argument("--backends", default="duckdb,postgres")
    parser.add_argument(
        "--encoders",
        default=",".join(ENCODERS),
        help="PostgreSQL new rows: comma-separated of " + ", ".join(ENCODERS) + " (those installed); empty: skip",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported")
    args = parser.parse_args(argv)

    report = Report(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        machine={
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_start": os.getloadavg(),
        },
    )
    frames = {"order_items": order_items_frame(args.items), "offers": offers_frame(args.offers)}
    backends = [b for b in args.backends.split(",") if b]
    rss_orders = [int(n) for n in args.rss_orders.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="bolsync-bench-") as tmp:
        folder = Path(tmp)
        for backend in backends:
            merges = measure_merges(report, backend, folder, frames, args)
            report.merges += [median_merge([m for m in merges if m.table == t]) for t in VERSIONS if merges]
        del frames
        for backend in backends:
            if any(note.startswith(backend) for note in report.notes):
                continue
            for orders in rss_orders:
                staging = stage_orders(folder / f"staged-{orders}", orders)
                runs = [
                    measure_rss_run(backend, folder / f"rss-{backend}-{orders}-{n}", staging, orders)
                    for n in range(args.runs)
                ]
                report.runs += [{"kind": "rss", **asdict(r)} for r in runs]
                report.rss.append(median_rss(runs))
                r = report.rss[-1]
                print(f"  {backend} load of {orders:,} staged orders: median peak RSS {r.peak_mb:.0f} MB", flush=True)
    report.machine["load_average_end"] = os.getloadavg()
    if len(report.rss) > 1:
        for backend in backends:
            peaks = [r for r in report.rss if r.backend == backend]
            if len(peaks) > 1:
                growth = peaks[-1].peak_mb / peaks[0].peak_mb
                report.notes.append(
                    f"{backend}: peak RSS x{growth:.2f} for x{peaks[-1].orders / peaks[0].orders:.0f} the orders "
                    f"({'met' if growth <= GOALS['rss_growth'] else 'MISSED'}: <= x{GOALS['rss_growth']:.2f})"
                )
    start, end = report.machine["load_average_start"], report.machine["load_average_end"]
    report.notes.append(f"load average (1, 5, 15 min): {start} at the start, {end} at the end")
    text = table(report)
    print()
    print(text)
    for note in report.notes:
        print(f"note: {note}")
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        **asdict(report),
        "goals": GOALS,
        "merges": [
            {
                **asdict(m),
                "rows_per_second": m.rows_per_second,
                "update_rows_per_second": m.update_rows_per_second,
                "baseline_rows_per_second": m.baseline_rows_per_second,
                "ratio": m.ratio,
            }
            for m in report.merges
        ],
        "landings": [{**asdict(x), "rows_per_second": x.rows_per_second} for x in report.landings],
        "table": text,
    }
    (args.out / "landing.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out / 'landing.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
