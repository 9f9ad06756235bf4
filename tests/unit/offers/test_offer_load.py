"""Offer upserts on both engines (DuckDB and PostgreSQL): idempotent, deletions, snapshots, sync state, quality."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bolsync.offers.listing import OfferList
from bolsync.offers.load import load_offer_list, record_sync_state, sync_state
from bolsync.offers.quality import check_offers_load
from bolsync.offers.transform import parse_export_csv, parse_v11_offers
from bolsync.runs.quality import QualityCheckFailed
from bolsync.warehouse.connection import connect_warehouse

HEADER = (
    "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,"
    "stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,economicOperatorId,futureColumn"
)
SEEN = datetime(2026, 11, 26, 23, tzinfo=UTC)
DAY = date(2026, 11, 26)


def _export(*offers: tuple[str, str, int]) -> str:
    lines = [
        f"{offer_id},871{n:010d},NEW,NEW,,{price},1-2d,{stock},false,FBR,2026-11-20 10:00:0{n % 10}.5 UTC,,eo,x"
        for n, (offer_id, price, stock) in enumerate(offers)
    ]
    return "\n".join([HEADER, *lines]) + "\n"


def listing(
    *, seen_at: datetime = SEEN, day: date = DAY, full: bool = True, source: str = "export", listed_at=None
) -> OfferList:
    """A list of ``day`` (whose interval ends at ``seen_at``), taken five minutes after that interval by default."""
    return OfferList(source, full, seen_at, listed_at or seen_at + timedelta(minutes=5), day)


def _load(conn, text: str, *, seen_at: datetime = SEEN, day: date = DAY, full: bool = True, **more):
    rows = parse_export_csv(text)
    counts = load_offer_list(conn, "R1", rows, listing(seen_at=seen_at, day=day, full=full), **more)
    record_sync_state(conn, "R1", source="export", seen_at=seen_at, full=full)
    return counts


def _all(conn) -> list[tuple]:
    order = {"offers": "1, 2", "offer_snapshots": "1, 2, 3", "offer_sync_state": "1"}
    return [conn.execute(f"SELECT * FROM bol.{table} ORDER BY {keys}").fetchall() for table, keys in order.items()]


@pytest.fixture
def conn(warehouse):
    with connect_warehouse(warehouse) as connection:
        yield connection


def test_insert_then_identical_rerun_changes_nothing(conn) -> None:
    text = _export(("a", "10.00", 1), ("b", "20.50", 2))
    first = _load(conn, text)
    assert (first.inserted, first.updated, first.deleted, first.snapshots) == (2, 0, 0, 2)
    before = _all(conn)
    again = _load(conn, text)
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert _all(conn) == before
    price, extra, deleted = conn.execute(
        "SELECT unit_price, CAST(extra AS VARCHAR), deleted FROM bol.offers WHERE offer_id = 'b'"
    ).fetchall()[0]
    assert str(price) == "20.50"
    assert extra == '{"futureColumn":"x"}'
    assert deleted is False


def test_changes_deletions_and_the_days_snapshot(conn) -> None:
    _load(conn, _export(("a", "10.00", 1), ("b", "20.00", 2), ("c", "5.00", 0)))
    counts = _load(conn, _export(("a", "11.00", 1), ("b", "20.00", 2)))  # c deleted at bol, a repriced
    assert (counts.inserted, counts.updated, counts.deleted, counts.snapshots) == (0, 1, 1, 2)
    state = dict(conn.execute("SELECT offer_id, deleted FROM bol.offers").fetchall())
    assert state == {"a": False, "b": False, "c": True}
    next_day = _load(
        conn,
        _export(("a", "12.00", 0), ("b", "20.00", 2)),
        seen_at=SEEN + timedelta(days=1),
        day=DAY + timedelta(days=1),
    )
    assert next_day.updated == 1
    history = conn.execute(
        "SELECT snapshot_date, unit_price, stock_amount FROM bol.offer_snapshots WHERE offer_id = 'a' ORDER BY 1"
    ).fetchall()
    assert [(d, str(p), s) for d, p, s in history] == [(DAY, "11.00", 1), (DAY + timedelta(days=1), "12.00", 0)]
    first_seen, last_seen = conn.execute(
        "SELECT first_seen_at, last_seen_at FROM bol.offers WHERE offer_id = 'a'"
    ).fetchall()[0]
    assert (first_seen, last_seen) == (SEEN, SEEN + timedelta(days=1))
    revived = _load(
        conn,
        _export(("a", "12.00", 0), ("b", "20.00", 2), ("c", "5.00", 0)),
        seen_at=SEEN + timedelta(days=1),
        day=DAY + timedelta(days=1),
    )
    assert revived.updated == 1  # c is back


def test_incremental_loads_flag_nothing_deleted_and_keep_columns_they_lack(conn) -> None:
    _load(conn, _export(("a", "10.00", 1), ("b", "20.00", 2)))
    v11 = parse_v11_offers(
        [
            {
                "offerId": "a",
                "ean": "8710000000000",
                "lastModifiedDateTime": "2026-11-26T10:00:00.000Z",
                "onHoldByRetailer": True,
                "stock": {"amount": 7, "correctedStock": 6},
                "condition": {"category": "NEW"},
                "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": 9.0}]},
                "fulfilment": {"method": "FBR"},
            }
        ]
    )
    counts = load_offer_list(conn, "R1", v11, listing(source="v11", full=False))
    assert (counts.updated, counts.deleted) == (1, 0)
    row = conn.execute(
        "SELECT fulfilment_delivery_code, corrected_stock, stock_amount, on_hold_by_retailer, source, deleted "
        "FROM bol.offers WHERE offer_id = 'a'"
    ).fetchall()[0]
    assert row == ("1-2d", 6, 7, True, "v11", False)  # the export's delivery code stays
    assert conn.execute("SELECT count(*) FROM bol.offers WHERE NOT deleted").fetchall() == [(2,)]


def test_sync_state_and_watermark(conn) -> None:
    assert sync_state(conn, "R1").last_full_sweep_at is None
    _load(conn, _export(("a", "10.00", 1)))
    _load(conn, _export(("a", "10.00", 1)), seen_at=SEEN + timedelta(days=1), full=False)
    state = sync_state(conn, "R1")
    assert state.last_full_sweep_at == SEEN
    assert state.last_sync_at == SEEN + timedelta(days=1)
    assert state.watermark == datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)


def test_quality_check(conn) -> None:
    text = _export(("a", "10.00", 1), ("b", "20.00", 2))
    _load(conn, text)
    check_offers_load(conn, conn_id="shop", retailer_id="R1", offer_ids=["a", "b"])
    with pytest.raises(QualityCheckFailed) as duplicate:
        check_offers_load(conn, conn_id="shop", retailer_id="R1", offer_ids=["a", "b", "b"])
    assert "offers_unique_in_source: the source had 3 offer rows but 2 distinct offer ids (1): b (x2)" in str(
        duplicate.value
    )
    with pytest.raises(QualityCheckFailed) as missing:
        check_offers_load(conn, conn_id="shop", retailer_id="R1", offer_ids=["a", "b", "zz"])
    assert "offers_loaded: source offers not live in bol.offers after the load (1): zz" in str(missing.value)
    assert "account 'shop' (retailer R1)" in str(missing.value)
