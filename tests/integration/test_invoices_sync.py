"""The invoices DAG end to end: the emulator over HTTP -> real Airflow task runs (``dag.test``) -> the warehouse,
checked against the emulator's own ground truth (``/_emulator/accounts/{client}/invoices`` and
``invoice-lines``). ``test_invoices_sync_postgres`` runs the same tests into PostgreSQL.

The emulator's clock stands three days behind the real one, so that an invoice it issues "today" lies in a
period that is over for bolsync (a requested period must end before today). The tests build on each other:
a backfill of the past weeks, two runs of the last week at once, reruns, new invoices issued by hand, and the
faults (an unbalanced specification, specifications only as xlsx or missing, transport faults, an odd page,
a small page size).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget, as_target
from tests.support.airflow_env import REPO, bol_connection, query, table_rows, warehouse_connection
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

SHOP = "bol_invoice_shop"
OTHER = "bol_invoice_other"
ACCOUNTS = {
    SHOP: AccountConfig("invoice-client-a", "invoice-secret-a", "5000001"),
    OTHER: AccountConfig("invoice-client-b", "invoice-secret-b", "5000002"),
}
DAG_ID = "bol_invoices"
LIST = "GET /retailer/invoices"
DETAIL = "GET /retailer/invoices/{invoice-id}"
SPECIFICATION = "GET /retailer/invoices/{invoice-id}/specification"
#: How far the emulator's clock stands behind the real one.
BEHIND = timedelta(days=3)
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {"GET /retailer/invoices": [400, 60], "GET /retailer/invoices/{id}": [400, 60]},
    "max_attempts": 6,
}
INVOICE_COLUMNS = ["invoice_type", "issue_date", "period_start", "period_end", "total_excl_vat", "total_vat",
                   "total_incl_vat"]  # fmt: skip
LINE_COLUMNS = ["bol_line_id", "charge_type", "order_id", "order_item_id", "ean", "shipment_id", "rma_id",
                "quantity", "amount_excl_vat", "vat_rate", "vat_amount", "description"]  # fmt: skip


class InvoiceEmulator:
    """The emulator of this module, through its control API."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.url = handle.base_url

    def table(self, conn_id: str, name: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_emulator/accounts/{ACCOUNTS[conn_id].client_id}/{name}", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def answers(self, endpoint: str) -> dict[str, int]:
        """How often the emulator answered ``endpoint``, by status."""
        counts = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()["requests"].get(endpoint, {})
        return {str(status): int(n) for status, n in counts.items()}

    def requests(self, endpoint: str) -> int:
        return sum(self.answers(endpoint).values())

    def world(self, conn_id: str, action: str, **body: Any) -> dict[str, Any]:
        payload = {"client_id": ACCOUNTS[conn_id].client_id, "action": action, **body}
        response = requests.post(f"{self.url}/_emulator/world", json=payload, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def fault(self, **body: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=body, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()

    def config(self, **settings: Any) -> None:
        requests.post(f"{self.url}/_emulator/config", json=settings, timeout=10).raise_for_status()

    def today(self) -> date:
        return (datetime.now(UTC) - BEHIND).astimezone(AMSTERDAM).date()

    def new_invoice(self, conn_id: str, orders: int = 2) -> str:
        """New orders for the account, shipped; then bol invoices every open charge today."""
        self.world(conn_id, "new_orders", count=orders)
        self.world(conn_id, "ship", count=orders)
        return str(self.world(conn_id, "issue_invoice")["invoice_ids"][0])


@dataclass
class World:
    emulator: InvoiceEmulator
    warehouse: WarehouseTarget
    sink: SmtpSink


@pytest.fixture(scope="module")
def invoice_emulator() -> Iterator[InvoiceEmulator]:
    config = EmulatorConfig(
        seed=29,
        accounts=list(ACCOUNTS.values()),
        orders_per_day=6,
        history_days=40,
        rate_scale=20.0,
        anchor=datetime.now(UTC) - BEHIND,
    )
    handle = start_emulator(config)
    for conn_id, account in ACCOUNTS.items():
        bol_connection(conn_id, handle.base_url, account.client_id, account.client_secret, **FAST)
    yield InvoiceEmulator(handle)
    handle.stop()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> WarehouseTarget:
    path = tmp_path_factory.mktemp("invoices") / "warehouse.duckdb"
    warehouse_connection(path)
    return as_target(path)


@pytest.fixture(scope="module")
def world(airflow_db: None, invoice_emulator: InvoiceEmulator, warehouse: WarehouseTarget) -> Iterator[World]:
    with SmtpSink() as sink, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_BOLSYNC_ALERTS", "")
        sink.use_as_alert_channel()
        for conn_id, account in ACCOUNTS.items():  # the connections of this module's emulator
            bol_connection(conn_id, invoice_emulator.url, account.client_id, account.client_secret, **FAST)
        warehouse_connection(warehouse)
        yield World(invoice_emulator, warehouse, sink)


def _dag() -> Any:
    """The DAG, parsed afresh: ``dag.test`` keeps a run's conf in the DAG object's params."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags")).dags[DAG_ID]


def run_week(monday: date, accounts: list[str] | None = None) -> str:
    """The weekly run whose data interval is the week starting on ``monday``."""
    logical = datetime.combine(monday + timedelta(days=7), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
    conf = {"accounts": accounts or list(ACCOUNTS), "period_start": None, "period_end": None}
    return str(_dag().test(logical_date=logical, run_conf=conf).state)


_runs = iter(range(1, 10_000))


def run_period(first: date, last: date, accounts: list[str] | None = None) -> str:
    """A manual run with ``period_start`` and ``period_end`` (each with a logical date of its own)."""
    logical = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_runs))
    conf = {"accounts": accounts or list(ACCOUNTS), "period_start": first.isoformat(), "period_end": last.isoformat()}
    return str(_dag().test(logical_date=logical, run_conf=conf).state)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _invoices(warehouse: WarehouseTarget, retailer_id: str) -> dict[str, dict[str, Any]]:
    columns = ["invoice_id", *INVOICE_COLUMNS, "specification_status", "line_count"]
    rows = query(
        warehouse,
        f"SELECT {', '.join(columns)}, CAST(vat_by_rate AS VARCHAR) FROM bol.invoices WHERE retailer_id = ?",
        [retailer_id],
    )
    return {
        row[0]: {**dict(zip(columns, row, strict=False)), "vat_by_rate": json.loads(row[-1]) if row[-1] else None}
        for row in rows
    }


def _lines(warehouse: WarehouseTarget, retailer_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    columns = ["invoice_id", "line_key", *LINE_COLUMNS, "transaction_at"]
    rows = query(warehouse, f"SELECT {', '.join(columns)} FROM bol.invoice_lines WHERE retailer_id = ?", [retailer_id])
    return {(row[0], row[1]): dict(zip(columns, row, strict=True)) for row in rows}


def _same(stored: Any, truth: Any) -> bool:
    if isinstance(stored, Decimal | float | int) and not isinstance(stored, bool):
        return truth is not None and Decimal(str(stored)) == Decimal(str(truth))
    if isinstance(stored, date) and not isinstance(stored, datetime):
        return stored.isoformat() == truth
    return bool(stored == truth)


def assert_is_truth(world: World, conn_id: str, only: set[str] | None = None, skip: set[str] = frozenset()) -> int:
    """The account's invoices (those of ``only``, when given; none of ``skip``) and every line of them are the
    emulator's, exactly; returns how many lines that is."""
    retailer_id = ACCOUNTS[conn_id].retailer_id
    invoices, lines = _invoices(world.warehouse, retailer_id), _lines(world.warehouse, retailer_id)
    truth = [t for t in world.emulator.table(conn_id, "invoices") if (only is None or t["invoice_id"] in only)]
    truth = [t for t in truth if t["invoice_id"] not in skip]
    assert truth, "the emulator should have invoices here"
    wanted = {t["invoice_id"] for t in truth}
    for invoice in truth:
        row = invoices.get(invoice["invoice_id"])
        assert row is not None, f"invoice {invoice['invoice_id']} is missing"
        for column in INVOICE_COLUMNS:
            assert _same(row[column], invoice[column]), (invoice["invoice_id"], column, row[column], invoice[column])
        assert row["vat_by_rate"] == invoice["vat_by_rate"]
        assert (row["specification_status"], row["line_count"]) == ("reconciled", invoice["line_count"])
    expected = [t for t in world.emulator.table(conn_id, "invoice-lines") if t["invoice_id"] in wanted]
    stored = {key: line for key, line in lines.items() if key[0] in wanted}
    assert len(stored) == len(expected)
    for line in expected:
        row = stored.get((line["invoice_id"], line["line_ref"]))
        assert row is not None, f"line {line['line_ref']} is missing"
        for column in LINE_COLUMNS:
            assert _same(row[column], line[column]), (line["line_ref"], column, row[column], line[column])
        assert row["transaction_at"] == datetime.fromisoformat(line["transaction_at"])
    return len(expected)


def _covered(world: World) -> list[tuple[datetime, datetime]]:
    return query(
        world.warehouse,
        "SELECT window_start, window_end FROM bol.sync_coverage WHERE stream = 'invoices' AND conn_id = ? "
        "ORDER BY window_start",
        [SHOP],
    )


@pytest.fixture(scope="module")
def weeks(world: World) -> list[date]:
    """The Mondays of every week an invoice of the emulator's history was issued in."""
    issued = [date.fromisoformat(t["issue_date"]) for c in ACCOUNTS for t in world.emulator.table(c, "invoices")]
    first, last = _monday(min(issued)), _monday(max(issued))
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


@pytest.fixture(scope="module")
def backfilled(world: World, weeks: list[date]) -> list[date]:
    """A backfill of every past week but the last one with an invoice, one weekly run each."""
    for monday in weeks[:-1]:
        assert run_week(monday) == "success"
    return weeks[:-1]


def test_a_backfill_of_past_weeks_lands_every_invoice_and_line(world: World, backfilled: list[date]) -> None:
    end = backfilled[-1] + timedelta(days=7)
    for conn_id in ACCOUNTS:
        issued = {t["invoice_id"] for t in world.emulator.table(conn_id, "invoices") if t["issue_date"] < str(end)}
        later = {t["invoice_id"] for t in world.emulator.table(conn_id, "invoices")} - issued
        if issued:
            assert assert_is_truth(world, conn_id, only=issued) > 0
        retailer_id = ACCOUNTS[conn_id].retailer_id
        assert not later & set(_invoices(world.warehouse, retailer_id))
    covered = [(s.astimezone(AMSTERDAM).date(), e.astimezone(AMSTERDAM).date()) for s, e in _covered(world)]
    assert covered == [(monday, monday + timedelta(days=7)) for monday in backfilled]
    assert query(world.warehouse, "SELECT count(*) FROM bol.quarantine WHERE stream = 'invoices'") == [(0,)]


def test_empty_weeks_are_logged_as_empty_periods_and_covered(world: World, backfilled: list[date]) -> None:
    notes = query(
        world.warehouse,
        "SELECT error FROM bol.sync_runs WHERE dag_id = ? AND task_id = 'sync_account.extract' AND error LIKE ?",
        [DAG_ID, "%no invoices issued in%"],
    )
    assert notes, "a week without an invoice is named as an empty period"


# --- two runs at once, reruns ------------------------------------------------------------------------------


def test_two_runs_of_the_last_week_at_once_land_it_once(
    world: World, weeks: list[date], backfilled: list[date], tmp_path: Path
) -> None:
    """This process and a child Airflow process (its own metadata DB) run the last week at the same moment: one
    warehouse, staging area and rate budget; both read its new invoices, and the tables hold each once."""
    state, child_state = _two_runs_at_once(weeks[-1], tmp_path)
    assert (state, child_state) == ("success", "success")
    for conn_id in ACCOUNTS:
        assert assert_is_truth(world, conn_id) > 0
    duplicates = query(
        world.warehouse,
        "SELECT invoice_id, line_key FROM bol.invoice_lines GROUP BY 1, 2 HAVING count(*) > 1 "
        "UNION ALL SELECT invoice_id, '' FROM bol.invoices GROUP BY 1 HAVING count(*) > 1",
    )
    assert duplicates == []


def _two_runs_at_once(monday: date, tmp_path: Path) -> tuple[str, str]:
    import subprocess
    import sys
    import time

    from tests.integration.test_faults import CONCURRENT_RUN, _copy_airflow_db, _subprocess_env

    logical = datetime.combine(monday + timedelta(days=7), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    home = tmp_path / "airflow-child"
    database = _copy_airflow_db(home)
    out, err = tmp_path / "child.out", tmp_path / "child.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_RUN, str(barrier), DAG_ID, logical.isoformat(), ",".join(ACCOUNTS)],
            cwd=REPO,
            env=_subprocess_env(AIRFLOW_HOME=str(home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{database}"),
            stdout=stdout,
            stderr=stderr,
        )
        try:
            deadline = time.time() + 120
            while not (barrier / "child").exists() and child.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            (barrier / "parent").touch()
            started = time.time()
            state = run_week(monday)
            ended = time.time()
            child.wait(timeout=300)
        finally:
            if child.poll() is None:
                child.kill()
    results = [line.split() for line in out.read_text().splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0, err.read_text()[-3000:]
    assert results, err.read_text()[-3000:]
    child_started, child_ended = float(results[-1][2]), float(results[-1][3])
    assert max(started, child_started) < min(ended, child_ended), "the two runs did not overlap"
    return state, results[-1][1]


def test_a_rerun_changes_no_row_and_reads_no_invoice_again(world: World, weeks: list[date]) -> None:
    before = table_rows(world.warehouse, "invoices"), table_rows(world.warehouse, "invoice_lines")
    reads = world.emulator.requests(DETAIL), world.emulator.requests(SPECIFICATION)
    listed = world.emulator.requests(LIST)
    assert run_week(weeks[-1]) == "success"
    assert run_week(weeks[0]) == "success"
    assert (table_rows(world.warehouse, "invoices"), table_rows(world.warehouse, "invoice_lines")) == before
    assert (world.emulator.requests(DETAIL), world.emulator.requests(SPECIFICATION)) == reads
    assert world.emulator.requests(LIST) == listed + 2 * len(ACCOUNTS)  # one period of at most 31 days a run


# --- new invoices, and what bol gets wrong ------------------------------------------------------------------


def _statuses(world: World, conn_id: str) -> dict[str, tuple[str, int]]:
    rows = query(
        world.warehouse,
        "SELECT i.invoice_id, i.specification_status, (SELECT count(*) FROM bol.invoice_lines l "
        "WHERE l.retailer_id = i.retailer_id AND l.invoice_id = i.invoice_id) FROM bol.invoices i "
        "WHERE i.retailer_id = ?",
        [ACCOUNTS[conn_id].retailer_id],
    )
    return {str(invoice_id): (str(status), int(lines)) for invoice_id, status, lines in rows}


def _held(world: World) -> dict[str, tuple[str, bool]]:
    rows = query(
        world.warehouse,
        "SELECT record_key, reason, released_at IS NULL FROM bol.quarantine WHERE stream = 'invoices'",
    )
    return {str(key): (str(reason), bool(open_)) for key, reason, open_ in rows}


def test_an_invoice_issued_now_lands_with_a_run_of_its_period(world: World) -> None:
    """... with exactly the fewest calls that can land it (``tests.benchmarks.streams.invoices``)."""
    from tests.benchmarks.streams.invoices import fewest_calls, naive_calls

    first, other = world.emulator.new_invoice(SHOP), world.emulator.new_invoice(OTHER)
    today = world.emulator.today()
    known = {i for conn_id in ACCOUNTS for i in _invoices(world.warehouse, ACCOUNTS[conn_id].retailer_id)}
    fewest, naive = {}, {}
    for conn_id in ACCOUNTS:
        truth = world.emulator.table(conn_id, "invoices")
        for label, n in fewest_calls(truth, today, today, known=known).items():
            fewest[label] = fewest.get(label, 0) + n
        for label, n in naive_calls(truth, today, today).items():
            naive[label] = naive.get(label, 0) + n
    calls = world.emulator.requests(LIST), world.emulator.requests(DETAIL) + world.emulator.requests(SPECIFICATION)
    assert run_period(today, today) == "success"
    made = (
        world.emulator.requests(LIST) - calls[0],
        world.emulator.requests(DETAIL) + world.emulator.requests(SPECIFICATION) - calls[1],
    )
    assert made == (fewest["GET /retailer/invoices"], fewest["GET /retailer/invoices/{id}"])
    assert made[0] == len(ACCOUNTS)  # one list request each: the day and the week before it
    assert made[1] >= 2 * len(ACCOUNTS)  # the new invoice's detail and its one specification page, each
    assert naive["GET /retailer/invoices/{id}"] > made[1]
    assert assert_is_truth(world, SHOP, only={first}) > 0
    assert assert_is_truth(world, OTHER, only={other}) > 0
    covered = [(s.astimezone(AMSTERDAM).date(), e.astimezone(AMSTERDAM).date()) for s, e in _covered(world)]
    assert (today, today + timedelta(days=1)) in covered


def test_an_unbalanced_invoice_is_held_and_alerted_once_while_the_rest_lands(world: World) -> None:
    bad, good = world.emulator.new_invoice(SHOP), world.emulator.new_invoice(OTHER)
    world.emulator.fault(kind="invoice_unbalanced", client_id=ACCOUNTS[SHOP].client_id, invoice_id=bad, amount=0.05)
    world.sink.clear()
    today = world.emulator.today()
    try:
        assert run_period(today, today) == "success"
        assert assert_is_truth(world, OTHER, only={good}) > 0
        assert _statuses(world, SHOP)[bad] == ("unbalanced", 0)
        reason, still_held = _held(world)[bad]
        assert still_held
        assert "do not add up" in reason
        assert "off by +0.05" in reason
        mails = [m for m in world.sink.bodies() if "held in quarantine" in m]
        assert len(mails) == 1
        assert bad in mails[0]
        assert run_period(today, today) == "success"  # read again (held), still wrong: not alerted again
        assert [m for m in world.sink.bodies() if "held in quarantine" in m] == mails
    finally:
        world.emulator.clear_faults()
    assert run_period(today, today) == "success"
    assert assert_is_truth(world, SHOP, only={bad}) > 0
    assert _held(world)[bad][1] is False


def test_invoices_without_a_json_specification_are_recorded_and_reported_once(world: World) -> None:
    xlsx, missing = world.emulator.new_invoice(SHOP), world.emulator.new_invoice(OTHER)
    emulator = world.emulator
    emulator.fault(kind="invoice_specification", mode="xlsx_only", client_id=ACCOUNTS[SHOP].client_id, invoice_id=xlsx)
    emulator.fault(
        kind="invoice_specification", mode="missing", client_id=ACCOUNTS[OTHER].client_id, invoice_id=missing
    )
    world.sink.clear()
    today, reads = emulator.today(), emulator.requests(SPECIFICATION)
    try:
        assert run_period(today, today) == "success"
        assert _statuses(world, SHOP)[xlsx] == ("xlsx_only", 0)
        assert _statuses(world, OTHER)[missing] == ("missing", 0)
        assert emulator.requests(SPECIFICATION) == reads  # the list says there is no JSON specification: no call
        for conn_id, invoice_id in ((SHOP, xlsx), (OTHER, missing)):
            truth = next(t for t in emulator.table(conn_id, "invoices") if t["invoice_id"] == invoice_id)
            stored = _invoices(world.warehouse, ACCOUNTS[conn_id].retailer_id)[invoice_id]
            for column in INVOICE_COLUMNS:
                assert _same(stored[column], truth[column]), (invoice_id, column)
        mails = [m for m in world.sink.bodies() if "without a JSON specification" in m]
        assert len(mails) == 2
        assert xlsx in "".join(mails)
        assert missing in "".join(mails)
        assert run_period(today, today) == "success"
        assert [m for m in world.sink.bodies() if "without a JSON specification" in m] == mails
        assert emulator.requests(SPECIFICATION) == reads
    finally:
        emulator.clear_faults()
    assert run_period(today, today) == "success"  # the list offers JSON again: read, reconciled
    assert assert_is_truth(world, SHOP, only={xlsx}) > 0
    assert assert_is_truth(world, OTHER, only={missing}) > 0


def test_transport_faults_are_absorbed_and_every_line_lands(world: World) -> None:
    invoice = world.emulator.new_invoice(SHOP)
    client = ACCOUNTS[SHOP].client_id
    world.emulator.fault(kind="burst_429", count=3, client_id=client, path_prefix="/retailer/invoices")
    world.emulator.fault(kind="server_error", count=2, client_id=client, path_prefix=f"/retailer/invoices/{invoice}")
    world.emulator.fault(kind="cut_body", count=2, client_id=client, path_prefix=f"/retailer/invoices/{invoice}/")
    today = world.emulator.today()
    before = {endpoint: world.emulator.answers(endpoint) for endpoint in (LIST, DETAIL, SPECIFICATION)}
    try:
        assert run_period(today, today, [SHOP]) == "success"
    finally:
        world.emulator.clear_faults()
    assert assert_is_truth(world, SHOP, only={invoice}) > 0
    after = {endpoint: world.emulator.answers(endpoint) for endpoint in (LIST, DETAIL, SPECIFICATION)}
    faulted = {
        status: sum(after[e].get(status, 0) - before[e].get(status, 0) for e in after) for status in ("429", "500")
    }
    assert faulted == {"429": 3, "500": 2}
    assert query(
        world.warehouse,
        "SELECT count(*) FROM bol.sync_runs WHERE dag_id = ? AND task_id = 'sync_account.extract' AND try_number > 1",
        [DAG_ID],
    ) == [(0,)]  # absorbed by the HTTP client: no task retry


def test_an_odd_specification_page_lands_nothing_of_the_run_and_a_later_run_all(world: World) -> None:
    invoice = world.emulator.new_invoice(SHOP)
    before = table_rows(world.warehouse, "invoices"), table_rows(world.warehouse, "invoice_lines")
    coverage = _covered(world)
    world.emulator.fault(
        kind="respond",
        client_id=ACCOUNTS[SHOP].client_id,
        path_prefix=f"/retailer/invoices/{invoice}/specification",
        status=200,
        headers={"Content-Type": "application/vnd.retailer.v10+json"},
        body='{"invoiceSpecification": {"lines": "not a list"}}',
    )
    today = world.emulator.today()
    try:
        assert run_period(today, today, [SHOP]) == "failed"
    finally:
        world.emulator.clear_faults()
    assert (table_rows(world.warehouse, "invoices"), table_rows(world.warehouse, "invoice_lines")) == before
    assert _covered(world) == coverage
    assert run_period(today, today, [SHOP]) == "success"
    assert assert_is_truth(world, SHOP, only={invoice}) > 0


def test_a_specification_on_pages_smaller_than_documented_is_read_whole(world: World) -> None:
    world.emulator.config(invoice_specification_page_size=2)
    try:
        invoice = world.emulator.new_invoice(SHOP, orders=3)
        pages = world.emulator.requests(SPECIFICATION)
        today = world.emulator.today()
        assert run_period(today, today, [SHOP]) == "success"
    finally:
        world.emulator.config(invoice_specification_page_size=25_000)
    lines = assert_is_truth(world, SHOP, only={invoice})
    assert lines > 2
    assert world.emulator.requests(SPECIFICATION) - pages == lines // 2 + 1
