"""One offer the warehouse cannot hold never blocks the day: it is held in bol.quarantine, never flagged deleted,
the other offers land; a later valid list releases it (both engines, through the offers DAG's load)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bolsync.offers.extracted import OffersExtracted
from bolsync.offers.load_steps import load_in_transaction
from bolsync.offers.spec import STREAM
from bolsync.offers.transform import OfferRows, parse_export_csv, parse_v11_offers
from bolsync.runs.quarantine import Quarantine
from bolsync.runs.values import latest_allowed
from bolsync.warehouse.connection import connect_warehouse
from bolsync.warehouse.lineage import Lineage
from tests.unit.offers.test_offer_hardening import V11
from tests.unit.offers.test_offer_load import HEADER

DAY = date(2026, 11, 26)


def _extracted(day: date, source: str = "export", full: bool = True) -> OffersExtracted:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=1)
    return OffersExtracted(
        conn_id="bol_shop",
        window_start=start.isoformat(),
        window_end=(start + timedelta(days=1)).isoformat(),
        snapshot_date=day.isoformat(),
        retailer_id="R1",
        source=source,
        full=full,
        extracted_at=(start + timedelta(days=1, hours=4)).isoformat(),
    )


def _line(offer_id: str, stock: str = "1", price: str = "10.00", changed: str = "2026-11-20 10:00:00 UTC") -> str:
    return f"{offer_id},8712345678906,NEW,NEW,,{price},1-2d,{stock},false,FBR,{changed},,eo,x"


def _day(conn: Any, day: date, *lines: str) -> tuple[OfferRows, Any]:
    extracted = _extracted(day)
    rows = parse_export_csv("\n".join([HEADER, *lines]) + "\n", latest_allowed(extracted.seen_at))
    scope = Quarantine(STREAM, "bol_shop", "R1", "bol_offers_daily", f"run_{day}", extracted.window.start)
    with conn.transaction():
        lineage = Lineage("bol_offers_daily", f"run_{day}", datetime.fromisoformat(str(extracted.extracted_at)))
        counts = load_in_transaction(conn, "R1", extracted, rows, False, lineage, None, scope)
    return rows, counts


def _offers(conn: Any) -> dict[str, tuple]:
    rows = conn.query("SELECT offer_id, stock_amount, unit_price, deleted FROM bol.offers ORDER BY 1")
    return {row[0]: row[1:] for row in rows}


def _snapshot(conn: Any, day: date) -> dict[str, int]:
    rows = conn.query("SELECT offer_id, stock_amount FROM bol.offer_snapshots WHERE snapshot_date = ?", [day])
    return dict(rows)


def _held(conn: Any) -> list[tuple]:
    return conn.query("SELECT record_key, field, released_by_run_id FROM bol.quarantine ORDER BY 1")


@pytest.fixture
def conn(warehouse):
    with connect_warehouse(warehouse) as connection:
        yield connection


def test_a_held_offer_is_never_flagged_deleted_and_the_others_land(conn) -> None:
    _day(conn, DAY, _line("a"), _line("b", stock="5"), _line("c"))
    next_day = DAY + timedelta(days=1)
    rows, counts = _day(conn, next_day, _line("a", stock="2"), _line("b", stock="3000000000"), _line("d", price="1e12"))
    assert [r.key for r in rows.rejected] == ["b", "d"]
    assert rows.source_rows == 3
    assert counts.deleted == 1  # c is gone; b is only held
    assert _offers(conn) == {
        "a": (2, pytest.approx(10), False),
        "b": (5, pytest.approx(10), False),  # its stored state, untouched
        "c": (1, pytest.approx(10), True),
    }
    assert _snapshot(conn, next_day) == {"a": 2, "b": 5}
    assert _held(conn) == [("b", "stockAmount", None), ("d", "bundlePricesPrice", None)]
    [reason] = conn.query("SELECT reason FROM bol.quarantine WHERE record_key = 'b'")[0]
    assert "3000000000 is outside INTEGER" in reason

    third = next_day + timedelta(days=1)
    _day(conn, third, _line("a", stock="2"), _line("b", stock="4"), _line("d", price="12.50"))
    assert _offers(conn)["b"][0] == 4
    assert _offers(conn)["d"][1] == pytest.approx(12.5)
    assert _held(conn) == [("b", "stockAmount", f"run_{third}"), ("d", "bundlePricesPrice", f"run_{third}")]


def test_a_line_without_a_usable_offer_id_flags_nothing_deleted_and_is_no_full_sweep(conn) -> None:
    _day(conn, DAY, _line("a"), _line("b"))
    swept = conn.query("SELECT last_full_sweep_at FROM bol.offer_sync_state")
    rows, counts = _day(conn, DAY + timedelta(days=1), _line("a"), _line("b\x00"))
    assert counts.deleted == 0  # b may be that line: a full list that cannot name every offer deletes none
    assert not _offers(conn)["b"][2]
    assert conn.query("SELECT last_full_sweep_at FROM bol.offer_sync_state") == swept
    [(key, field, _)] = _held(conn)
    assert key.startswith("unkeyed:")
    assert field == "offerId"
    assert not rows.keys_complete


def test_times_without_a_zone_or_after_the_extract_are_held(conn) -> None:
    rows, _ = _day(
        conn,
        DAY,
        _line("a", changed="2026-11-20 10:00:00"),
        _line("b", changed="2099-01-01 00:00:00 UTC"),
        _line("c"),
    )
    assert [(r.key, r.field) for r in rows.rejected] == [("a", "mutationDateTime"), ("b", "mutationDateTime")]
    assert "has no timezone" in rows.rejected[0].reason
    assert "later than the extract" in rows.rejected[1].reason
    assert list(_offers(conn)) == ["c"]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"stock": {"amount": 2**31}}, "stock.amount", "outside INTEGER"),
        ({"pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": float("inf")}]}}, "pricing", "not a price"),
        ({"pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": "NaN"}]}}, "pricing", "not a price"),
        ({"pricing": {"bundlePrices": "10.00"}}, "pricing", "is not an array of objects"),
        ({"condition": "GOOD"}, "condition", "is a string ('GOOD'), not an object"),
        ({"lastModifiedDateTime": "2026-11-20T13:03:11"}, "lastModifiedDateTime", "has no timezone"),
        ({"lastModifiedDateTime": "9999-01-01T00:00:00Z"}, "lastModifiedDateTime", "later than the extract"),
        ({"onHoldByRetailer": "no"}, "onHoldByRetailer", "not true/false"),
    ],
)
def test_v11_values_the_warehouse_cannot_hold_are_refused_alone(change: dict, field: str, says: str) -> None:
    rows = parse_v11_offers([{**V11, **change}, {**V11, "offerId": "o-10"}], datetime(2026, 12, 1, tzinfo=UTC))
    assert list(rows.frame["offer_id"]) == ["o-10"]
    [refused] = rows.rejected
    assert (refused.key, refused.field) == ("o-9", field)
    assert says in refused.reason
    assert json.loads(refused.raw_json)["offerId"] == "o-9"
