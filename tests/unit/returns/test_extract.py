"""The returns extract against a fake bol (``fake_bol``) and a DuckDB warehouse: which pages and details a run
reads, the stop rule of the handled lists, page shifts in the unhandled lists, and what is staged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bolsync.returns.extract import PERSONAL_FILE, REGISTRATION_MARGIN, RETURNS_FILE, ExtractResult, extract_returns
from bolsync.returns.load import LoadResult, MethodScanned, load_returns
from bolsync.returns.stream import WarehouseReturns
from bolsync.runs.windows import SyncWindow
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.errors import BolInconsistentResponse
from tests.unit.returns.data import COMMENT, NOW
from tests.unit.returns.fake_bol import FakeBol

RETAILER = "1"
SECRET = b"k" * 32


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

    def run(self, *, full: bool = False, secret: bytes | None = None, window_end=None) -> Run:
        self.runs += 1
        staging = self.tmp / f"run{self.runs}"
        staging.mkdir()
        self.bol.list_calls.clear()
        self.bol.detail_calls.clear()
        end = window_end or self.bol.now.replace(minute=0, second=0)
        window = SyncWindow(end - timedelta(hours=1), end)
        extracted = extract_returns(
            self.bol, self.bol.fetch, staging, WarehouseReturns(self.database, RETAILER), window, full=full,
            personal_secret=secret, clock=lambda: self.bol.now,
        )  # fmt: skip
        scans = [MethodScanned.of(scan.method, scan.info()) for scan in extracted.scans]
        with connect_warehouse(self.database) as conn:
            loaded = load_returns(conn, RETAILER, staging, scans=scans, not_found=extracted.not_found)
        return Run(extracted, loaded, staging, list(self.bol.list_calls), list(self.bol.detail_calls))

    def stored(self) -> dict[str, tuple]:
        with connect_warehouse(self.database) as conn:
            rows = conn.query("SELECT return_id, handled, result_count FROM bol.returns")
        return {row[0]: row[1:] for row in rows}

    def later(self, hours: float = 1) -> None:
        self.bol.now += timedelta(hours=hours)


@pytest.fixture
def account(tmp_path: Path) -> Account:
    return Account(tmp_path)


def _old(hours: float) -> object:
    return NOW - timedelta(hours=hours)


def test_the_first_run_reads_everything_and_fetches_details_of_open_returns_only(account: Account) -> None:
    for n in range(3):
        account.bol.add(f"U{n}", NOW - timedelta(days=n + 1))
    for n in range(60):
        account.bol.add(f"H{n:02d}", NOW - timedelta(days=5, minutes=n), handled=True)
    run = account.run()
    assert run.lists == [("FBR unhandled", 1), ("FBR handled", 1), ("FBR handled", 2), ("FBB unhandled", 1),
                         ("FBB handled", 1)]  # fmt: skip
    assert sorted(run.details) == ["U0", "U1", "U2"]  # the history bol holds handled: no detail each
    assert run.extracted.complete
    assert len(account.stored()) == 63


def test_a_quiet_hourly_run_reads_one_page_per_list_and_no_detail(account: Account) -> None:
    account.bol.add("U1", NOW - timedelta(days=2))
    for n in range(120):
        account.bol.add(f"H{n:03d}", NOW - timedelta(days=3, minutes=n), handled=True)
    account.run()
    account.later()
    run = account.run()
    assert run.lists == [("FBR unhandled", 1), ("FBR handled", 1), ("FBB unhandled", 1), ("FBB handled", 1)]
    assert run.details == []
    assert (run.loaded.returns.inserted, run.loaded.returns.updated, run.loaded.items.updated) == (0, 0, 0)


def test_a_return_handled_long_after_its_registration_is_re_read_by_id(account: Account) -> None:
    account.bol.add("LATE", NOW - timedelta(days=20))
    for n in range(120):  # newer handled returns push the late one to page 3 of the handled list
        account.bol.add(f"H{n:03d}", NOW - timedelta(days=3, minutes=n), handled=True)
    account.run()
    assert account.stored()["LATE"] == (False, 0)
    account.later()
    account.bol.handle("LATE")
    run = account.run()
    assert ("FBR handled", 2) not in run.lists  # the handled list was read down to the bound only
    assert run.details == ["LATE"]
    assert run.extracted.left_unhandled == 1
    assert account.stored()["LATE"] == (True, 1)


def test_a_return_registered_and_handled_between_two_runs_is_on_the_first_handled_page(account: Account) -> None:
    for n in range(60):
        account.bol.add(f"H{n:02d}", NOW - timedelta(days=3, minutes=n), handled=True)
    account.run()
    account.later()
    account.bol.add("QUICK", account.bol.now - timedelta(minutes=30), handled=True)
    run = account.run()
    assert [call for call in run.lists if call[0] == "FBR handled"] == [("FBR handled", 1)]
    assert run.details == ["QUICK"]  # new since the last scan: its detail once
    assert account.stored()["QUICK"] == (True, 1)
    account.later()
    assert account.run().details == []  # known and unchanged: never again


def test_the_handled_scan_reads_on_while_pages_past_the_bound_show_changes(account: Account) -> None:
    for n in range(150):
        account.bol.add(f"H{n:03d}", NOW - timedelta(days=3, minutes=n), handled=True)
    account.run()
    account.later()
    # bol's "change the handlingResult of an already handled return": visible only at its place in the list.
    account.bol.returns["H010"]["returnItems"][0]["processingResults"][0]["handlingResult"] = "EXCHANGE_PRODUCT"
    run = account.run()
    assert [n for what, n in run.lists if what == "FBR handled"] == [1, 2]  # page 1 changed, page 2 did not
    assert run.loaded.results.updated == 1


def test_a_full_scan_reads_the_handled_lists_to_their_end(account: Account) -> None:
    for n in range(120):
        account.bol.add(f"H{n:03d}", NOW - timedelta(days=3, minutes=n), handled=True)
    account.run()
    account.later()
    account.bol.returns["H110"]["returnItems"][0]["processingResults"][0]["handlingResult"] = "EXCHANGE_PRODUCT"
    hourly = account.run()
    assert hourly.loaded.results.updated == 0  # deep in the list, past the bound: the hourly run cannot see it
    account.later()
    daily = account.run(full=True)
    assert [n for what, n in daily.lists if what == "FBR handled"] == [1, 2, 3]
    assert daily.loaded.results.updated == 1
    assert daily.details == []


def test_a_recent_return_skipped_by_a_page_shift_is_found_by_the_boundary_check(account: Account) -> None:
    for n in range(120):
        account.bol.add(f"OLD{n:03d}", NOW - timedelta(days=10, minutes=-n))
    account.run()
    account.later(2)
    for n in range(60):  # registered after the last scan: unknown to the warehouse, at the end of the list
        account.bol.add(f"NEW{n:02d}", account.bol.now - timedelta(minutes=60 - n))
    # After page 3 of the unhandled list is read, a return on page 1 is handled: every later return moves up one
    # place, and NEW30 (first on page 4) moves onto page 3, already read.
    account.bol.events[3] = lambda bol: bol.handle("OLD005")
    run = account.run()
    stored = account.stored()
    assert all(f"NEW{n:02d}" in stored for n in range(60))
    assert run.extracted.scans[0].unhandled.consistent
    assert stored["OLD005"] == (True, 1)  # left the unhandled list: re-read by id
    assert "NEW30" in run.details


def test_a_known_return_skipped_by_a_page_shift_is_re_read_by_id(account: Account) -> None:
    for n in range(120):
        account.bol.add(f"OLD{n:03d}", NOW - timedelta(days=10, minutes=-n))
    account.run()
    account.later(2)
    account.bol.events[1] = lambda bol: bol.handle("OLD005")  # OLD050 moves onto page 1, read already
    run = account.run()
    assert run.details == ["OLD050"]  # not listed as unhandled by this run: read by id
    assert run.lists.count(("FBR unhandled", 1)) == 1  # an old boundary: not checked
    assert account.stored()["OLD050"] == (False, 0)
    assert account.stored()["OLD005"] == (True, 1)  # from the handled list, read after the unhandled one


def test_an_unhandled_list_that_never_holds_still_is_not_a_complete_scan(account: Account) -> None:
    for n in range(80):
        account.bol.add(f"OLD{n:03d}", NOW - timedelta(days=10, minutes=-n))
    account.run()
    first_scan = account.bol.now
    account.later(2)
    for n in range(40):
        account.bol.add(f"NEW{n:02d}", account.bol.now - timedelta(minutes=60 - n))
    for call in range(2, 40, 2):  # a return handled after every other call
        account.bol.events[call] = lambda bol, n=call: bol.handle(f"OLD{n:03d}")
    run = account.run()
    assert not run.extracted.scans[0].unhandled.consistent
    assert not run.extracted.complete
    with connect_warehouse(account.database) as conn:
        assert conn.query("SELECT last_scan_started_at FROM bol.return_scans WHERE fulfilment_method = 'FBR'") == [
            (first_scan,)
        ]


def test_a_window_observed_by_a_later_complete_scan_reads_nothing(account: Account) -> None:
    account.bol.add("U1", NOW - timedelta(days=2))
    account.run()
    account.later(5)
    run = account.run(window_end=NOW - timedelta(hours=1))
    assert run.lists == []
    assert run.details == []
    assert run.extracted.complete
    assert run.extracted.skipped_by
    daily = account.run(full=True, window_end=NOW - timedelta(hours=1))
    assert daily.lists == []
    assert daily.extracted.skipped_by


def test_a_full_page_repeating_the_one_before_stops_the_listing(account: Account) -> None:
    for n in range(120):
        account.bol.add(f"H{n:03d}", NOW - timedelta(days=3, minutes=n), handled=True)
    fetch = account.bol.fetch
    account.bol.fetch = lambda listing, number: fetch(listing, max(1, number - 1) if listing.handled else number)
    with pytest.raises(BolInconsistentResponse, match="page 2 is a full page"):
        account.run()


def test_customer_data_is_staged_apart_for_an_opted_in_account_only(account: Account) -> None:
    account.bol.add("U1", NOW - timedelta(days=2))
    opted_in = account.run(secret=SECRET)
    staged = (opted_in.staging / RETURNS_FILE).read_text()
    assert COMMENT not in staged
    assert "Jansen" not in staged
    assert "customerDetails" not in staged
    rows = [json.loads(line) for line in (opted_in.staging / PERSONAL_FILE).read_text().splitlines()]
    from_detail = [row for row in rows if row["from_detail"]]
    assert [(row["rma_id"], row["surname"], row["customer_comments"]) for row in from_detail] == [
        ("U1-1", "Jansen", COMMENT)
    ]
    assert all(row["email_pseudonym"] and len(row["email_pseudonym"]) == 64 for row in from_detail)
    account.bol.add("U2", account.bol.now - timedelta(hours=4))
    account.later()
    not_opted_in = account.run()
    assert not (not_opted_in.staging / PERSONAL_FILE).exists()
    staged = (not_opted_in.staging / RETURNS_FILE).read_text()
    assert "U2" in staged
    assert COMMENT not in staged
    assert "Jansen" not in staged


def test_details_an_earlier_attempt_fetched_are_reused(account: Account, tmp_path: Path) -> None:
    account.bol.add("U1", NOW - timedelta(days=2))
    first = account.run(secret=SECRET)
    assert first.details == ["U1"]
    staging = tmp_path / "retry"
    staging.mkdir()
    window = SyncWindow(NOW - timedelta(hours=1), NOW)
    with connect_warehouse(account.database) as conn:
        conn.execute("DELETE FROM bol.returns")  # as if the first attempt's load never ran
        conn.execute("DELETE FROM bol.return_scans")
    account.bol.detail_calls.clear()
    result = extract_returns(
        account.bol, account.bol.fetch, staging, WarehouseReturns(account.database, RETAILER), window, full=False,
        reuse_from=[first.staging], personal_secret=SECRET, clock=lambda: account.bol.now,
    )  # fmt: skip
    assert account.bol.detail_calls == []
    assert result.details_reused == 1
    rows = [json.loads(line) for line in (staging / PERSONAL_FILE).read_text().splitlines()]
    assert any(row["from_detail"] and row["surname"] == "Jansen" for row in rows)


def test_the_margin_covers_returns_listed_late(account: Account) -> None:
    account.run()
    account.later()
    # Registered before the last scan started but listed only after it (within the margin), then handled.
    account.bol.add("LAGGED", NOW - REGISTRATION_MARGIN + timedelta(minutes=5), handled=True)
    run = account.run()
    assert "LAGGED" in account.stored()
    assert run.details == ["LAGGED"]


def test_returns_that_left_the_unhandled_list_together_are_read_from_their_page(account: Account) -> None:
    for n in range(5):
        account.bol.add(f"OPEN{n}", NOW - timedelta(days=20, minutes=n))
    account.bol.add("ALONE", NOW - timedelta(days=40))
    for n in range(120):  # 120 newer handled returns: the old ones land on page 3 of the handled list
        account.bol.add(f"H{n:03d}", NOW - timedelta(days=3, minutes=n), handled=True)
    for n in range(60):  # and 60 between them and the oldest one, which lands on page 4
        account.bol.add(f"M{n:02d}", NOW - timedelta(days=30, minutes=n), handled=True)
    account.run()
    account.later()
    for key in ("OPEN0", "OPEN1", "OPEN2", "ALONE"):
        account.bol.handle(key)
    run = account.run()
    assert ("FBR handled", 3) in run.lists  # OPEN0-2 from the page where they stand now: one call
    assert ("FBR handled", 4) not in run.lists
    assert run.details == ["ALONE"]  # alone on its page: by id, one call either way
    assert all(account.stored()[key] == (True, 1) for key in ("OPEN0", "OPEN1", "OPEN2", "ALONE"))
