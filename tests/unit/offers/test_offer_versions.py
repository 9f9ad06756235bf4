"""Offer loads honour the version on both engines: an older or late list never takes bol.offers back in time,
never flags deleted an offer seen after it was taken, and a replayed day's snapshot is what that day's list said."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bolsync.offers.listing import OfferList
from bolsync.offers.load import load_offer_list, record_sync_state
from bolsync.offers.transform import OfferRows, parse_export_csv, parse_v11_offers
from bolsync.warehouse.connection import connect_warehouse, select_all
from bolsync.warehouse.lineage import Lineage

HEADER = (
    "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,"
    "stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,economicOperatorId"
)
FIRST_DAY = date(2026, 11, 24)
#: Midnight in Amsterdam after FIRST_DAY: the end of its nightly run's interval.
FIRST_END = datetime(2026, 11, 24, 23, tzinfo=UTC)


def export(*offers: tuple[str, str, int, str]) -> OfferRows:
    """An export of (offer id, price, stock, mutation time ``MM-DD HH:MM``) rows."""
    lines = [
        f"{offer_id},871000000000{n},NEW,NEW,,{price},1-2d,{stock},false,FBR,2026-{changed}:00.000 UTC,,eo"
        for n, (offer_id, price, stock, changed) in enumerate(offers)
    ]
    return parse_export_csv("\n".join([HEADER, *lines]) + "\n")


def night(n: int, *, full: bool = True, source: str = "export", listed_after: timedelta | None = None) -> OfferList:
    """The nightly list of day ``FIRST_DAY + n``: its interval ends at the next midnight, bol's list is taken five
    minutes later (or ``listed_after`` the interval's end)."""
    end = FIRST_END + timedelta(days=n)
    return OfferList(source, full, end, end + (listed_after or timedelta(minutes=5)), FIRST_DAY + timedelta(days=n))


def load(conn, rows: OfferRows, listing: OfferList, run: str = "run"):
    lineage = Lineage("bol_offers_daily", run, listing.listed_at)
    counts = load_offer_list(conn, "R1", rows, listing, lineage=lineage)
    record_sync_state(conn, "R1", source=listing.source, seen_at=listing.seen_at, full=listing.full)
    return counts


def offers(conn, *without: str) -> list[tuple]:
    """Every offer row, but ``extra`` (PostgreSQL cannot sort JSON) and the ``without`` columns."""
    return select_all(conn, "bol.offers", exclude=["extra", *without])


def snapshot(conn, day: date) -> dict[str, tuple]:
    rows = conn.query(
        "SELECT offer_id, unit_price, stock_amount, mutation_date_time FROM bol.offer_snapshots "
        "WHERE retailer_id = 'R1' AND snapshot_date = ? ORDER BY 1",
        [day],
    )
    return {row[0]: (str(row[1]), row[2], row[3].astimezone(UTC).strftime("%m-%d %H:%M")) for row in rows}


def state(conn) -> dict[str, tuple]:
    rows = conn.query("SELECT offer_id, unit_price, deleted FROM bol.offers WHERE retailer_id = 'R1' ORDER BY 1")
    return {offer_id: (str(price), deleted) for offer_id, price, deleted in rows}


@pytest.fixture
def conn(warehouse):
    with connect_warehouse(warehouse) as connection:
        yield connection


def test_an_older_list_loaded_after_a_newer_one_changes_nothing(conn) -> None:
    b, c = ("b", "20.00", 2, "11-20 09:00"), ("c", "5.00", 3, "11-20 09:00")
    load(conn, export(("a", "10.00", 1, "11-24 10:00"), b, c), night(0))
    load(conn, export(("a", "12.00", 1, "11-26 10:00"), b), night(2), "day2")
    assert state(conn) == {"a": ("12.00", False), "b": ("20.00", False), "c": ("5.00", True)}
    before = offers(conn, "last_seen_at")
    late = load(conn, export(("a", "11.00", 9, "11-25 10:00"), b, c), night(1), "day1")
    assert (late.inserted, late.updated, late.deleted) == (0, 0, 0)
    assert state(conn) == {"a": ("12.00", False), "b": ("20.00", False), "c": ("5.00", True)}
    last_seen = "SELECT offer_id, last_seen_at FROM bol.offers ORDER BY 1"
    assert [(o, seen.astimezone(UTC)) for o, seen in conn.query(last_seen)] == [
        ("a", FIRST_END + timedelta(days=2)),
        ("b", FIRST_END + timedelta(days=2)),
        ("c", FIRST_END + timedelta(days=1)),  # the late list did see c: its one widening, nothing else changes
    ]
    assert offers(conn, "last_seen_at") == before  # not a's price of day 1, not c back from deleted, no lineage


def test_a_list_taken_before_an_offer_appeared_never_flags_it_deleted(conn) -> None:
    load(conn, export(("a", "10.00", 1, "11-20 10:00"), ("b", "20.00", 2, "11-20 10:00")), night(0))
    v11 = parse_v11_offers(
        [
            {
                "offerId": "new",
                "ean": "8710000000999",
                "lastModifiedDateTime": "2026-11-25T23:30:00.000Z",  # created after the export below was taken
                "condition": {"category": "NEW"},
                "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": 7.5}]},
                "stock": {"amount": 4, "correctedStock": 4},
                "fulfilment": {"method": "FBR"},
            }
        ]
    )
    load(conn, v11, night(1, full=False, source="v11", listed_after=timedelta(minutes=30)), "v11")
    late_export = night(1, listed_after=timedelta(minutes=10))  # requested at 23:10, loaded after the v11 list
    counts = load(conn, export(("a", "10.00", 1, "11-20 10:00"), ("b", "20.00", 2, "11-20 10:00")), late_export)
    assert counts.deleted == 0
    assert state(conn)["new"] == ("7.50", False)
    assert "new" not in snapshot(conn, FIRST_DAY + timedelta(days=1))  # it did not exist when that day ended
    seen_later = load(conn, export(("a", "10.00", 1, "11-20 10:00")), night(0), "replay-day0")
    assert seen_later.deleted == 0  # b and "new" were seen by the lists of day 1, after this one
    assert state(conn) == {"a": ("10.00", False), "b": ("20.00", False), "new": ("7.50", False)}


def test_a_replay_of_a_day_after_the_next_one_keeps_offers_and_gives_the_day_its_own_snapshot(conn) -> None:
    b, c = ("b", "20.00", 2, "11-20 09:00"), ("c", "5.00", 3, "11-20 09:00")
    day0 = export(("a", "10.00", 1, "11-24 10:00"), b, c)
    load(conn, day0, night(0), "day0")
    load(conn, export(("a", "11.00", 0, "11-25 10:00"), b, ("d", "8.00", 1, "11-25 12:00")), night(1), "day1")
    assert state(conn) == {"a": ("11.00", False), "b": ("20.00", False), "c": ("5.00", True), "d": ("8.00", False)}
    offers_before = offers(conn)
    day0_snapshot = snapshot(conn, FIRST_DAY)
    assert day0_snapshot == {
        "a": ("10.00", 1, "11-24 10:00"),
        "b": ("20.00", 2, "11-20 09:00"),
        "c": ("5.00", 3, "11-20 09:00"),
    }
    conn.execute(
        "UPDATE bol.offer_snapshots SET unit_price = 99, stock_amount = 9 WHERE snapshot_date = ?", [FIRST_DAY]
    )
    replayed = load(conn, day0, night(0), "replay")
    assert offers(conn) == offers_before
    assert (replayed.inserted, replayed.updated, replayed.deleted) == (0, 0, 0)
    assert snapshot(conn, FIRST_DAY) == day0_snapshot


def test_a_replayed_incremental_day_keeps_the_unlisted_offers_as_they_were_that_day(conn) -> None:
    load(conn, export(("a", "10.00", 1, "11-20 10:00"), ("b", "20.00", 2, "11-20 10:00")), night(0), "day0")
    changed_a = [
        {
            "offerId": "a",
            "ean": "8710000000000",
            "lastModifiedDateTime": "2026-11-25T12:00:00.000Z",
            "condition": {"category": "NEW"},
            "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": 10.5}]},
            "stock": {"amount": 5, "correctedStock": 5},
            "fulfilment": {"method": "FBR"},
        }
    ]
    day1 = night(1, full=False, source="v11")
    load(conn, parse_v11_offers(changed_a), day1, "day1")
    load(conn, export(("a", "10.50", 5, "11-25 12:00"), ("b", "25.00", 0, "11-26 08:00")), night(2), "day2")
    offers_before = offers(conn)
    conn.execute("DELETE FROM bol.offer_snapshots WHERE snapshot_date = ?", [day1.snapshot_date])
    load(conn, parse_v11_offers(changed_a), day1, "replay")
    assert offers(conn) == offers_before
    assert snapshot(conn, day1.snapshot_date) == {
        "a": ("10.50", 5, "11-25 12:00"),
        "b": ("20.00", 2, "11-20 10:00"),  # as the day before said, not day 2's newer price
    }


def test_without_versions_the_later_observation_wins_and_an_equal_version_fills_other_columns(conn) -> None:
    no_version = export(("a", "10.00", 1, "11-20 10:00"))
    no_version.frame["mutation_date_time"] = no_version.frame["mutation_date_time"].astype("datetime64[us, UTC]")
    no_version.frame.loc[:, "mutation_date_time"] = None
    load(conn, no_version, night(1))
    older = export(("a", "9.00", 1, "11-20 10:00"))
    older.frame.loc[:, "mutation_date_time"] = None
    load(conn, older, night(0), "older")
    assert state(conn)["a"] == ("10.00", False)  # seen a day before the stored row: not newer
    load(conn, export(("a", "9.50", 1, "11-21 10:00")), night(2), "newer")
    assert state(conn)["a"] == ("9.50", False)  # seen later: newer, and it has a version now
    v11_same_version = [
        {
            "offerId": "a",
            "ean": "8710000000000",
            "lastModifiedDateTime": "2026-11-21T10:00:00.000Z",
            "condition": {"category": "NEW"},
            "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": 9.5}]},
            "stock": {"amount": 1, "correctedStock": 0},
            "fulfilment": {"method": "FBR"},
        }
    ]
    load(conn, parse_v11_offers(v11_same_version), night(2, full=False, source="v11"), "v11")
    corrected, code = conn.query("SELECT corrected_stock, fulfilment_delivery_code FROM bol.offers")[0]
    assert (corrected, code) == (0, "1-2d")  # v11 filled its column at the same version; the export's code stays
