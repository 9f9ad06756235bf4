"""A full offer list must earn its deletions (``runs.evidence``), on both engines: a short or empty list holds
them (nothing flagged, the day's snapshot whole, a hold recorded) until a run confirms; small ones apply."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bolsync.offers.extracted import OffersExtracted
from bolsync.offers.load_steps import load_in_transaction
from bolsync.offers.transform import parse_export_csv
from bolsync.runs.deletion_holds import open_holds
from bolsync.runs.evidence import DeletionThreshold
from bolsync.warehouse.connection import connect_warehouse
from bolsync.warehouse.lineage import Lineage
from tests.unit.offers.test_offer_load import DAY, HEADER, SEEN

#: (offer id, price, stock, bol's last change) of an account's 120 offers.
ALL = [(f"o{n:03d}", f"{10 + n}.00", n, "2026-11-20 10:00:00") for n in range(120)]


def export(offers) -> str:
    lines = [
        f"{o},871{n:010d},NEW,NEW,,{price},1-2d,{stock},false,FBR,{at} UTC,,eo,x"
        for n, (o, price, stock, at) in enumerate(offers)
    ]
    return "\n".join([HEADER, *lines]) + "\n"


def run(
    conn,
    offers,
    *,
    day: int = 0,
    confirmed: bool = False,
    threshold: DeletionThreshold | None = None,
    run_id: str | None = None,
):
    """One nightly export of ``offers``, ``day`` days after DAY, through ``load_steps.load_in_transaction``."""
    end = SEEN + timedelta(days=day)
    extracted = OffersExtracted(
        conn_id="shop",
        window_start=(end - timedelta(days=1)).isoformat(),
        window_end=end.isoformat(),
        snapshot_date=(DAY + timedelta(days=day)).isoformat(),
        retailer_id="R1",
        source="export",
        full=True,
        extracted_at=(end + timedelta(minutes=6)).isoformat(),
        listed_at=(end + timedelta(minutes=5)).isoformat(),
    )
    lineage = Lineage("bol_offers_daily", run_id or f"run-{day}", end + timedelta(minutes=6))
    with conn.transaction():
        return load_in_transaction(
            conn, "R1", extracted, parse_export_csv(export(offers)), confirmed, lineage, threshold
        )


def live(conn) -> int:
    return conn.query("SELECT count(*) FROM bol.offers WHERE NOT deleted")[0][0]


def snapshot(conn, day: date) -> dict[str, str]:
    rows = conn.query("SELECT offer_id, unit_price FROM bol.offer_snapshots WHERE snapshot_date = ?", [day])
    return {offer_id: str(price) for offer_id, price in rows}


def full_sweep_at(conn) -> datetime:
    return conn.query("SELECT last_full_sweep_at FROM bol.offer_sync_state")[0][0]


@pytest.fixture
def conn(warehouse):
    with connect_warehouse(warehouse) as connection:
        run(connection, ALL)
        yield connection


def test_an_export_of_one_of_120_offers_holds_the_deletions_until_confirmed(conn) -> None:
    next_day = DAY + timedelta(days=1)
    repriced = ("o007", "99.00", 7, "2026-11-27 09:00:00")
    held = run(conn, [repriced], day=1)
    assert live(conn) == 120
    day = snapshot(conn, next_day)
    assert len(day) == 120 == held.snapshots
    assert day["o007"] == "99.00"  # the listed offer landed
    assert day["o008"] == "18.00"  # a held one, at its last known state
    assert held.check is not None
    assert held.check.held
    assert (held.deleted, held.held, held.updated) == (0, 119, 1)
    assert full_sweep_at(conn) == SEEN  # not a full sweep whose deletions applied
    (hold,) = open_holds(conn, "offers", "R1")
    assert (hold["live"], hold["held"], hold["run_id"], hold["source"]) == (120, 119, "run-1", "bol's offer export")

    again = run(conn, [repriced], day=1, run_id="run-1-retry")  # a rerun of the day: the same hold
    assert (again.deleted, again.held, again.updated) == (0, 119, 0)
    assert len(open_holds(conn)) == 2

    confirmed = run(conn, [repriced], day=1, confirmed=True, run_id="run-1-confirmed")
    assert (confirmed.deleted, confirmed.held) == (119, 0)
    assert live(conn) == 1
    assert snapshot(conn, next_day) == {"o007": "99.00"}
    assert open_holds(conn) == []
    resolutions = conn.query("SELECT DISTINCT resolution, resolved_by_run_id FROM bol.deletion_holds")
    assert resolutions == [("confirmed", "run-1-confirmed")]
    assert full_sweep_at(conn) == SEEN + timedelta(days=1)


def test_deletions_below_the_limits_apply_as_before(conn) -> None:
    counts = run(conn, ALL[:100], day=1)  # 20 of 120: not more than 20
    assert counts.check is not None
    assert not counts.check.held
    assert (counts.deleted, counts.held) == (20, 0)
    assert live(conn) == 100
    assert len(snapshot(conn, DAY + timedelta(days=1))) == 100
    strict = run(conn, ALL[:90], day=2, threshold=DeletionThreshold(percent=5, count=5))
    assert (strict.deleted, strict.held) == (0, 10)  # 10 of 100: more than 5 % and more than 5


def test_an_empty_list_is_the_extreme_case_of_the_same_rule(warehouse) -> None:
    with connect_warehouse(warehouse) as conn:
        run(conn, ALL[:2])
        empty = run(conn, [], day=1)
        assert live(conn) == 2
        assert len(snapshot(conn, DAY + timedelta(days=1))) == 2
        assert (empty.deleted, empty.held) == (0, 2)  # two offers: far below 20, still held
        others = run(conn, [("new", "1.00", 1, "2026-11-20 10:00:00")], day=2)  # names none of the live offers
        assert (others.inserted, others.deleted, others.held) == (1, 0, 2)
        confirmed = run(conn, [], day=3, confirmed=True)
        assert (confirmed.deleted, live(conn)) == (3, 0)


def test_a_later_complete_list_clears_the_hold(conn) -> None:
    run(conn, ALL[:1], day=1)
    assert len(open_holds(conn)) == 1
    complete = run(conn, ALL, day=2)
    assert (complete.deleted, complete.held) == (0, 0)
    assert open_holds(conn) == []
    assert conn.query("SELECT resolution FROM bol.deletion_holds") == [("cleared",)]
