"""The shipments extract against a fake bol (``fake_bol``) and a DuckDB warehouse: which pages and details a run
reads, the stop rule (and that consecutive runs miss no shipment), backfills, the history limit and what is
staged."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bolsync.personal.staging import PERSONAL_FILE
from bolsync.runs.windows import AMSTERDAM, SyncWindow
from bolsync.shipments.extract import SHIPMENTS_FILE, ExtractResult, extract_shipments
from bolsync.shipments.load import LoadResult, MethodScanned, load_shipments
from bolsync.shipments.stream import WarehouseShipments
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.errors import BolNotFound, BolWindowTooOld
from tests.unit.shipments.fake_bol import NOW, FakeBol

RETAILER = "1"
SECRET = b"k" * 32
MARGIN = timedelta(minutes=30)


@dataclass
class Run:
    extracted: ExtractResult
    loaded: LoadResult
    staging: Path
    lists: list[tuple[str, int]]
    details: list[str]


class Account:
    """A fake bol account synced into a DuckDB warehouse, one run at a time."""

    def __init__(self, tmp_path: Path) -> None:
        self.bol = FakeBol()
        self.database = tmp_path / "warehouse.duckdb"
        self.tmp = tmp_path
        self.runs = 0

    def run(
        self,
        window: SyncWindow | None = None,
        *,
        secret: bytes | None = None,
        oldest_day: date | None = None,
        refresh: datetime | None = None,
    ) -> Run:
        self.runs += 1
        staging = self.tmp / f"run{self.runs}"
        self.bol.list_calls.clear()
        self.bol.detail_calls.clear()
        if window is None:
            end = self.bol.now.replace(minute=0, second=0, microsecond=0)
            window = SyncWindow(end - timedelta(hours=1), end)
        extracted = extract_shipments(
            self.bol, self.bol.fetch, staging, WarehouseShipments(self.database, RETAILER), window,  # type: ignore[arg-type]
            margin=MARGIN, oldest_day=oldest_day, refresh_since=refresh, personal_secret=secret,
            clock=lambda: self.bol.now,
        )  # fmt: skip
        scans = [MethodScanned.of(scan.method, scan.info()) for scan in extracted.scans]
        with connect_warehouse(self.database) as conn:
            loaded = load_shipments(conn, RETAILER, staging, scans=scans)
        return Run(extracted, loaded, staging, list(self.bol.list_calls), list(self.bol.detail_calls))

    def stored(self) -> set[str]:
        with connect_warehouse(self.database) as conn:
            return {str(row[0]) for row in conn.query("SELECT shipment_id FROM bol.shipments")}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with connect_warehouse(self.database) as conn:
            return conn.query(sql)


@pytest.fixture
def account(tmp_path: Path) -> Account:
    return Account(tmp_path)


def _fill(bol: FakeBol, count: int, *, every: timedelta, method: str = "FBR", prefix: str = "S") -> None:
    for n in range(count):
        bol.add(f"{prefix}{n:04d}", NOW - every * (n + 1), method)


def test_a_first_hourly_run_reads_down_to_its_window_and_each_new_detail_once(account: Account) -> None:
    _fill(account.bol, 300, every=timedelta(minutes=10))
    first = account.run()
    # 12:00 window [11:00, 12:00), bound 10:30: shipments from 10:30 on are on the first page of FBR; FBB is empty.
    assert first.lists == [("FBR", 1), ("FBB", 1)]
    expected = {
        f"S{n:04d}" for n in range(300) if NOW - timedelta(minutes=10) * (n + 1) >= NOW - timedelta(hours=1, minutes=30)
    }
    assert account.stored() >= expected
    assert sorted(first.details) == sorted(account.stored())
    assert first.extracted.complete
    again = account.run()  # a new window: the same first page, no detail read again
    assert again.details == []
    assert again.loaded.shipments.updated == again.loaded.items.updated == 0


def test_the_list_is_read_until_a_page_holds_a_shipment_older_than_the_bound(account: Account) -> None:
    _fill(account.bol, 300, every=timedelta(minutes=10))
    end = NOW.replace(minute=0)
    window = SyncWindow(end - timedelta(hours=20), end)  # 20 h 30 min down: 123 shipments, page 3 crosses it
    run = account.run(window)
    assert run.lists == [("FBR", 1), ("FBR", 2), ("FBR", 3), ("FBB", 1)]
    assert run.extracted.scans[0].stopped_at_bound
    assert run.extracted.scans[1].reached_end


def test_a_backfill_reads_down_to_its_first_day_once_and_its_later_days_read_nothing(account: Account) -> None:
    _fill(account.bol, 400, every=timedelta(hours=3))  # 50 days
    _fill(account.bol, 60, every=timedelta(hours=20), method="FBB", prefix="B")
    today = NOW.astimezone(AMSTERDAM).date()
    days = [today - timedelta(days=n) for n in (30, 29, 28)]
    first = account.run(_day(days[0]))
    on_or_after = [s for s, (_, _, full) in account.bol.shipments.items()
                   if datetime.fromisoformat(full["shipmentDateTime"]) >= _day(days[0]).start]  # fmt: skip
    assert account.stored() >= set(on_or_after)
    assert len(first.details) == len(account.stored())
    fbr_pages = len([c for c in first.lists if c[0] == "FBR"])
    assert fbr_pages == len([s for s in on_or_after if s.startswith("S")]) // 50 + 1
    for day in days[1:]:
        later = account.run(_day(day))
        assert later.lists == []
        assert later.details == []
        assert later.extracted.skipped_by
        assert later.extracted.complete


def test_the_oldest_day_parameter_makes_one_pass_for_a_backfill_run_in_any_order(account: Account) -> None:
    _fill(account.bol, 200, every=timedelta(hours=3))
    today = NOW.astimezone(AMSTERDAM).date()
    first = account.run(_day(today - timedelta(days=2)), oldest_day=today - timedelta(days=10))
    assert first.extracted.complete
    older = account.run(_day(today - timedelta(days=9)))
    assert older.lists == []


def test_a_day_beyond_three_months_is_a_clear_error(account: Account) -> None:
    today = NOW.astimezone(AMSTERDAM).date()
    with pytest.raises(BolWindowTooOld, match="bol lists shipments of the last 3 months only") as raised:
        account.run(_day(today - timedelta(days=100)))
    assert raised.value.first_served is not None
    assert raised.value.first_served > today - timedelta(days=100)
    assert account.bol.list_calls == []


def test_consecutive_hourly_runs_miss_no_shipment(account: Account) -> None:
    """Shipments arrive at random moments, listed up to the margin late, also while a run pages; runs start at
    uneven moments, some skipped (an outage). Every shipment shipped from the first run's bound to the last
    run's start minus the margin is stored."""
    rng = random.Random(7)
    bol = account.bol
    bol.now = NOW - timedelta(days=3)
    _fill(bol, 500, every=timedelta(minutes=9), prefix="H")  # history before the first run
    counter = iter(range(10**6))

    def arrive(fake: FakeBol) -> None:
        for _ in range(rng.randint(0, 3)):
            shipped = fake.now - timedelta(seconds=rng.randint(0, 1700))
            fake.add(f"N{next(counter):05d}", shipped, rng.choice(["FBR", "FBB"]),
                     listed=shipped + timedelta(seconds=rng.randint(0, 1790)))  # fmt: skip

    bol.on_list = arrive
    bol.tick = timedelta(seconds=40)
    first_bound: datetime | None = None
    for hour in range(30):
        step = timedelta(minutes=rng.randint(50, 70))
        for _ in range(rng.randint(80, 160)):  # dense: a page spans minutes, so the bound decides what is read
            shipped = bol.now + step * rng.random()
            bol.add(f"D{next(counter):05d}", shipped, rng.choice(["FBR", "FBB"]),
                    listed=shipped + timedelta(seconds=rng.randint(0, 1790)))  # fmt: skip
        bol.now += step
        if hour in (10, 11, 12):  # an outage: the next run reads across the gap
            continue
        run = account.run()
        assert run.extracted.complete
        first_bound = first_bound or min(scan.bound for scan in run.extracted.scans)
        last_start = min(scan.started_at for scan in run.extracted.scans)
    stored = account.stored()
    assert first_bound is not None
    due = {key for key, (_, _, full) in bol.shipments.items()
           if first_bound <= datetime.fromisoformat(full["shipmentDateTime"]) < last_start - MARGIN}  # fmt: skip
    assert len(due) > 100
    assert due - stored == set()


def test_the_daily_refresh_rereads_only_journeys_under_way(account: Account) -> None:
    account.bol.add("A", NOW - timedelta(hours=2), events=1)
    account.bol.add("B", NOW - timedelta(hours=3), events=4)  # delivered
    account.run()
    account.bol.shipments["A"][2]["transport"]["transportEvents"].append(
        {"eventCode": "IN_TRANSIT", "eventDateTime": (NOW - timedelta(minutes=5)).isoformat()}
    )
    account.bol.now += timedelta(hours=21)
    refreshed = account.run(refresh=account.bol.now - timedelta(days=14))
    assert refreshed.details == ["A"]
    assert refreshed.extracted.details_refreshed == 1
    rows = account.query("SELECT shipment_id, event_count, latest_event_code, journey_ended FROM bol.shipments "
                         "ORDER BY shipment_id")  # fmt: skip
    assert rows == [("A", 2, "IN_TRANSIT", False), ("B", 4, "DELIVERED_AT_CUSTOMER", True)]
    soon = account.run(refresh=account.bol.now - timedelta(days=14))
    assert soon.details == []  # read less than 20 hours ago


def test_personal_data_is_staged_apart_for_opted_in_accounts_only(account: Account) -> None:
    account.bol.add("A", NOW - timedelta(minutes=70))
    plain = account.run()
    staged = (plain.staging / SHIPMENTS_FILE).read_text()
    assert "Jansen" not in staged
    assert "jan@example.com" not in staged
    assert not (plain.staging / PERSONAL_FILE).exists()
    account.bol.add("B", NOW - timedelta(minutes=65))
    opted = account.run(secret=SECRET)
    assert "Jansen" not in (opted.staging / SHIPMENTS_FILE).read_text()
    rows = [json.loads(line) for line in (opted.staging / PERSONAL_FILE).read_text().splitlines()]
    assert [(row["order_id"], row["shipment_surname"]) for row in rows] == [("OB", "Jansen")]
    assert rows[0]["email_pseudonym"]
    assert rows[0]["email_address"] == "jan@example.com"


def _day(day: date) -> SyncWindow:
    start = datetime.combine(day, datetime.min.time(), AMSTERDAM)
    return SyncWindow(start, datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM))


def test_a_retry_reuses_the_details_an_earlier_attempt_read(account: Account, tmp_path: Path) -> None:
    _fill(account.bol, 30, every=timedelta(minutes=3))
    end = NOW.replace(minute=0)
    window = SyncWindow(end - timedelta(hours=1), end)
    known = WarehouseShipments(account.database, RETAILER)  # type: ignore[arg-type]
    first = extract_shipments(account.bol, account.bol.fetch, tmp_path / "try1", known, window,  # type: ignore[arg-type]
                              margin=MARGIN, personal_secret=SECRET, clock=lambda: account.bol.now)  # fmt: skip
    assert first.details_fetched == 30
    account.bol.detail_calls.clear()
    second = extract_shipments(account.bol, account.bol.fetch, tmp_path / "try2", known, window,  # type: ignore[arg-type]
                               margin=MARGIN, personal_secret=SECRET, reuse_from=[tmp_path / "try1"],
                               clock=lambda: account.bol.now)  # fmt: skip
    assert account.bol.detail_calls == []
    assert second.details_reused == 30
    assert len((tmp_path / "try2" / PERSONAL_FILE).read_text().splitlines()) == 30


def test_a_detail_that_answered_404_is_asked_for_again(account: Account) -> None:
    account.bol.add("A", NOW - timedelta(minutes=70))
    gone = account.bol.get_json

    def missing(path: str, **kwargs: Any) -> Any:
        if path.endswith("/A"):
            account.bol.detail_calls.append("A")
            raise BolNotFound("no shipment A")
        return gone(path, **kwargs)

    account.bol.get_json = missing  # type: ignore[method-assign]
    first = account.run()
    assert first.extracted.not_found == ["A"]
    assert account.query("SELECT shipment_id, detail_read_at FROM bol.shipments") == [("A", None)]
    account.bol.get_json = gone  # type: ignore[method-assign]
    account.bol.now += timedelta(hours=5)  # "A" is no longer on a page the next run reads down to
    for n in range(60):
        account.bol.add(f"N{n:02d}", account.bol.now - timedelta(minutes=n + 1))
    second = account.run()
    assert "A" in second.details
    assert account.query("SELECT count(*) FROM bol.shipments WHERE detail_read_at IS NULL") == [(0,)]
