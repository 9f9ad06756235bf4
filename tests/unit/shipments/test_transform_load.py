"""The shipment checks (a typed error naming the shipment, the item and the field), the rows and the versioned
load: an older read never overwrites a newer one, a list read never clears detail fields, a bad shipment is held
and the rest lands, a rerun changes no row."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bolsync.runs.quarantine import InvalidRecord
from bolsync.runs.staging import NdjsonWriter
from bolsync.shipments.extract import DETAIL, LIST, SHIPMENTS_FILE
from bolsync.shipments.load import load_shipments
from bolsync.shipments.transform import Observation, ShipmentChecks, item_rows, shipment_rows
from bolsync.warehouse.connection import connect_warehouse
from tests.unit.shipments.fake_bol import NOW, detail, reduced

SHIPPED = NOW - timedelta(hours=2)


def _seen(entry: dict[str, Any], *, from_detail: bool = True, at: datetime = NOW) -> Observation:
    return Observation(entry, "FBR", at, from_detail)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["shipmentItems"][0].update(quantityShipped=3_000_000_000), "shipmentItems[0].quantityShipped"),
        (lambda d: d["shipmentItems"][0].update(quantityShipped=None), "shipmentItems[0].quantityShipped"),
        (lambda d: d.update(shipmentDateTime="2026-11-20T10:00:00"), "shipmentDateTime"),
        (lambda d: d.update(shipmentDateTime=(NOW + timedelta(days=2)).isoformat()), "shipmentDateTime"),
        (lambda d: d["order"].update(orderId=None), "order.orderId"),
        (lambda d: d["shipmentItems"][0].update(unitPrice="9,95"), "shipmentItems[0].unitPrice"),
        (lambda d: d["transport"].update(transportEvents={"eventCode": "X"}), "transport.transportEvents"),
        (lambda d: d["transport"].update(trackAndTrace="3SBOL\x00"), "transport.trackAndTrace"),
        (lambda d: d.update(shipmentItems=[d["shipmentItems"][0]] * 2), "shipmentItems[1].orderItemId"),
    ],
)
def test_a_bad_value_is_refused_naming_the_shipment_and_the_field(change: Any, field: str) -> None:
    body = detail("S1", SHIPPED)
    change(body)
    with pytest.raises(InvalidRecord, match="shipment 'S1'") as raised:
        ShipmentChecks().check(_seen(body))
    assert raised.value.key == "S1"
    assert raised.value.field == field


def test_a_list_entry_passes_the_checks_without_detail_fields() -> None:
    ShipmentChecks().check(_seen(reduced(detail("S1", SHIPPED)), from_detail=False))


def test_rows_take_list_fields_from_the_newest_read_and_detail_fields_from_the_newest_detail() -> None:
    full = detail("S1", SHIPPED, events=2)
    newer = reduced(full) | {"shipmentReference": "NEW"}
    reads = [_seen(full, at=NOW - timedelta(minutes=5)), _seen(newer, from_detail=False)]
    row = shipment_rows("1", reads).iloc[0]
    assert row["shipment_reference"] == "NEW"
    assert row["transporter_code"] == "TNT"
    assert json.loads(row["transport_events"])[-1]["event_code"] == "AT_TRANSPORTER"
    assert row["event_count"] == 2
    assert not row["journey_ended"]
    items = item_rows("1", reads)
    assert list(items[["order_item_id", "quantity", "quantity_ordered", "unit_price"]].itertuples(index=False)) == [
        ("IS1", 2, 2, 9.95)
    ]


def _stage(folder: Path, reads: list[tuple[str, dict[str, Any], datetime]]) -> Path:
    folder.mkdir(parents=True)
    with NdjsonWriter(folder / SHIPMENTS_FILE, append=False) as writer:
        for source, entry, at in reads:
            writer.write({"source": source, "method": "FBR", "observed_at": at.isoformat(), "shipment": entry})
    return folder


def _rows(conn: Any) -> list[tuple[Any, ...]]:
    shipments = conn.query("SELECT * EXCLUDE (first_synced_at) FROM bol.shipments ORDER BY shipment_id")
    items = conn.query("SELECT * EXCLUDE (first_synced_at) FROM bol.shipment_items ORDER BY shipment_id")
    return [*shipments, *items]


def test_an_older_read_loaded_later_a_list_read_and_a_rerun_change_nothing(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    old, new = detail("S1", SHIPPED, events=1), detail("S1", SHIPPED, events=3)
    newer = _stage(tmp_path / "newer", [(DETAIL, new, NOW)])
    older = _stage(tmp_path / "older", [(DETAIL, old, NOW - timedelta(hours=1))])
    listed = _stage(tmp_path / "listed", [(LIST, reduced(new), NOW + timedelta(hours=1))])
    with connect_warehouse(database) as conn:
        load_shipments(conn, "1", newer)
        before = _rows(conn)
        assert load_shipments(conn, "1", older).shipments.updated == 0
        assert load_shipments(conn, "1", newer).shipments.updated == 0
        assert load_shipments(conn, "1", listed).shipments.updated == 0
        assert load_shipments(conn, "1", older).items.updated == 0
        assert _rows(conn) == before
        assert conn.query("SELECT event_count, track_and_trace FROM bol.shipments") == [(3, "3SBOLS1")]


def test_a_bad_shipment_is_held_and_the_rest_lands(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    bad = detail("S2", SHIPPED)
    bad["shipmentItems"][0]["quantityShipped"] = -0.5
    staged = _stage(tmp_path / "run", [(LIST, reduced(bad), NOW), (DETAIL, bad, NOW),
                                       (DETAIL, detail("S1", SHIPPED), NOW)])  # fmt: skip
    with connect_warehouse(database) as conn:
        result = load_shipments(conn, "1", staged)
        stored = conn.query("SELECT shipment_id FROM bol.shipments")
    assert [(r.key, r.field) for r in result.held] == [("S2", "shipmentItems[0].quantityShipped")]
    assert result.held_orders == {"OS2"}
    assert stored == [("S1",)]
