"""The invoices load on both engines: rows as bol sent them, reruns that change nothing, held invoices released
by a read that adds up, stale lines removed, open amounts that follow the newest listing, and invoices without a
JSON specification reported once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bolsync.invoices import report
from bolsync.invoices.extract import DOCUMENTS_FILE, LIST_FILE
from bolsync.invoices.load import load_invoices, stored_states
from bolsync.invoices.spec import STREAM
from bolsync.runs.alerts import Delivery
from bolsync.runs.quarantine import Quarantine
from bolsync.runs.staging import NdjsonWriter
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, select_all
from bolsync.warehouse.lineage import Lineage
from tests.unit.invoices import bol_shapes as bol

RETAILER = "42"
FIRST = Lineage("bol_invoices", "scheduled__first", datetime(2026, 3, 2, 8, tzinfo=UTC))
LATER = Lineage("bol_invoices", "scheduled__later", datetime(2026, 3, 9, 8, tzinfo=UTC))


def stage(folder: Path, entries: list[dict[str, Any]], documents: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    with NdjsonWriter(folder / LIST_FILE, append=False) as listed:
        listed.write({"period_start": "2026-02-23", "period_end": "2026-03-08", "invoices": entries})
        listed.write({"period_start": "2026-03-09", "period_end": "2026-03-15", "invoices": []})
    with NdjsonWriter(folder / DOCUMENTS_FILE, append=False) as staged:
        for document in documents:
            staged.write(document)
    return folder


def scope(lineage: Lineage) -> Quarantine:
    return Quarantine(STREAM, "bol_shop", RETAILER, lineage.dag_id, lineage.run_id)


def load(target: WarehouseTarget, folder: Path, lineage: Lineage = FIRST) -> Any:
    with connect_warehouse(target) as conn:
        return load_invoices(conn, RETAILER, folder, lineage, scope(lineage))


def rows(target: WarehouseTarget, table: str) -> list[tuple[Any, ...]]:
    with connect_warehouse(target) as conn:
        return select_all(conn, f"bol.{table}", exclude=["first_synced_at"])


def one(target: WarehouseTarget, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connect_warehouse(target) as conn:
        return conn.query(sql, params or [])


def test_a_read_invoice_lands_with_every_line_as_bol_sent_it(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    loaded = load(warehouse, stage(tmp_path / "run", [bol.list_entry()], [bol.document()]))
    assert (loaded.invoices.inserted, loaded.lines.inserted, loaded.held) == (1, 6, [])
    assert loaded.empty_periods == ["2026-03-09..2026-03-15"]
    invoice = one(
        warehouse,
        "SELECT invoice_id, invoice_type, issue_date, period_start, period_end, currency, total_excl_vat, total_vat, "
        "total_incl_vat, specification_status, specification_read, reconciled, line_count, open_amount, "
        "CAST(vat_by_rate AS VARCHAR), synced_by_run_id FROM bol.invoices",
    )
    assert invoice == [
        (bol.INVOICE_ID, "ALL_IN_ONE", date(2026, 3, 1), date(2026, 2, 16), date(2026, 2, 28), "EUR",
         Decimal("-26.85"), Decimal("1.94"), Decimal("-24.91"), "reconciled", True, True, 6, Decimal("-24.91"),
         '{"0.00":{"total_excl_vat":-36.09,"vat":0.0},"21.00":{"total_excl_vat":9.24,"vat":1.94}}',
         "scheduled__first"),
    ]  # fmt: skip
    lines = one(
        warehouse,
        "SELECT line_key, charge_type, order_id, order_item_id, ean, rma_id, quantity, amount_excl_vat, vat_rate, "
        "vat_category, vat_amount, transaction_date, CAST(extra AS VARCHAR) FROM bol.invoice_lines ORDER BY line_key",
    )
    assert [line[:11] for line in lines] == [
        (f"{bol.INVOICE_ID}-00001", "TURNOVER", "O1", "I1", "8712345678906", None, Decimal(2), Decimal("-59.98"),
         Decimal(0), "O", Decimal(0)),
        (f"{bol.INVOICE_ID}-00002", "COMMISSION", "O1", "I1", "8712345678906", None, Decimal(2), Decimal("7.39"),
         Decimal(21), "S", Decimal("1.55")),
        (f"{bol.INVOICE_ID}-00003", "SHIPMENT_LABEL", "O1", None, None, None, Decimal(1), Decimal("4.25"),
         Decimal(21), "S", Decimal("0.89")),
        (f"{bol.INVOICE_ID}-00004", "SHIPMENT_LABEL_POST", "O2", None, None, None, Decimal(1), Decimal("3.90"),
         Decimal(0), "E", Decimal(0)),
        (f"{bol.INVOICE_ID}-00005", "CORRECTION_TURNOVER", "O3", "I3", "8712345678913", "R1", Decimal(1),
         Decimal("19.99"), Decimal(0), "O", Decimal(0)),
        (f"{bol.INVOICE_ID}-00006", "CORRECTION_COMMISSION", "O3", "I3", "8712345678913", "R1", Decimal(1),
         Decimal("-2.40"), Decimal(21), "S", Decimal("-0.50")),
    ]  # fmt: skip
    assert {line[11] for line in lines} == {date(2026, 2, 20)}
    extra = json.loads(lines[1][12])
    assert extra["price"]["PriceAmount"] == {"currencyID": "EUR", "value": round(7.39 / 2, 2)}
    assert extra["invoicedQuantity"] == {"unitCode": "C62"}


def test_a_rerun_changes_no_row(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    folder = stage(tmp_path / "run", [bol.list_entry()], [bol.document()])
    load(warehouse, folder)
    before = rows(warehouse, "invoices"), rows(warehouse, "invoice_lines")
    again = load(warehouse, folder, LATER)
    assert (again.invoices.inserted, again.invoices.updated, again.lines.inserted, again.lines.updated) == (0, 0, 0, 0)
    assert (rows(warehouse, "invoices"), rows(warehouse, "invoice_lines")) == before
    later_read = stage(tmp_path / "later", [bol.list_entry()], [bol.document(read_at="2026-03-09T08:00:00+00:00")])
    assert load(warehouse, later_read, LATER).invoices.updated == 0
    assert (rows(warehouse, "invoices"), rows(warehouse, "invoice_lines")) == before


def test_lines_that_do_not_add_up_are_held_and_land_once_a_read_adds_up(
    warehouse: WarehouseTarget, tmp_path: Path
) -> None:
    shifted = bol.lines()
    shifted[1]["lineExtensionAmount"] = bol.amount(7.44)  # the 21 % lines 0.05 too high
    loaded = load(warehouse, stage(tmp_path / "bad", [bol.list_entry()], [bol.document(lines=shifted)]))
    assert loaded.lines.inserted == 0
    assert [h.key for h in loaded.held] == [bol.INVOICE_ID]
    assert "VAT rate 21.00 %: amount excluding VAT: invoice 9.24, lines 9.29, off by +0.05" in loaded.held[0].reason
    assert one(warehouse, "SELECT specification_status, reconciled, line_count FROM bol.invoices") == [
        ("unbalanced", False, 6)
    ]
    assert one(warehouse, "SELECT count(*) FROM bol.invoice_lines") == [(0,)]
    held = one(warehouse, "SELECT record_key, raw_json, released_at FROM bol.quarantine")
    assert held[0][0] == bol.INVOICE_ID
    assert held[0][2] is None
    assert json.loads(held[0][1])["specification"][1]["lineExtensionAmount"]["value"] == 7.44
    with connect_warehouse(warehouse) as conn:
        assert stored_states(conn, RETAILER, {bol.INVOICE_ID, "other"}) == {bol.INVOICE_ID: "held"}

    good = stage(tmp_path / "good", [bol.list_entry()], [bol.document(read_at="2026-03-09T08:00:00+00:00")])
    fixed = load(warehouse, good, LATER)
    assert (fixed.lines.inserted, fixed.released, fixed.held) == (6, 1, [])
    assert one(warehouse, "SELECT specification_status, reconciled FROM bol.invoices") == [("reconciled", True)]
    assert one(warehouse, "SELECT released_by_run_id FROM bol.quarantine") == [("scheduled__later",)]
    with connect_warehouse(warehouse) as conn:
        assert stored_states(conn, RETAILER, {bol.INVOICE_ID}) == {bol.INVOICE_ID: "reconciled"}


def test_an_older_read_never_replaces_a_newer_one(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    newer = stage(tmp_path / "newer", [bol.list_entry()], [bol.document(read_at="2026-03-09T08:00:00+00:00")])
    load(warehouse, newer, LATER)
    before = rows(warehouse, "invoices"), rows(warehouse, "invoice_lines")
    shifted = bol.lines()
    shifted[1]["lineExtensionAmount"] = bol.amount(7.44)
    older = stage(tmp_path / "older", [bol.list_entry()], [bol.document(lines=shifted)])
    load(warehouse, older, FIRST)
    assert (rows(warehouse, "invoices"), rows(warehouse, "invoice_lines")) == before


def test_lines_a_newer_read_no_longer_names_are_removed(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    load(warehouse, stage(tmp_path / "first", [bol.list_entry()], [bol.document()]))
    keyed_again = [{**line, "invoiceLineRef": f"new-{n}"} for n, line in enumerate(bol.lines())]
    later = bol.document(lines=keyed_again, read_at="2026-03-09T08:00:00+00:00")
    loaded = load(warehouse, stage(tmp_path / "later", [bol.list_entry()], [later]), LATER)
    assert (loaded.lines.inserted, loaded.lines_removed) == (6, 6)
    assert one(warehouse, "SELECT min(line_key), count(*) FROM bol.invoice_lines") == [("new-0", 6)]


def test_open_amounts_follow_the_newest_listing_of_known_invoices(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    load(warehouse, stage(tmp_path / "first", [bol.list_entry()], [bol.document()]))
    paid = stage(tmp_path / "paid", [bol.list_entry(openAmount=0)], [])
    assert load(warehouse, paid, LATER).invoices.updated == 1
    assert one(warehouse, "SELECT open_amount, open_amount_at, synced_by_run_id FROM bol.invoices") == [
        (Decimal("0.00"), LATER.extracted_at, "scheduled__later")
    ]
    stale = stage(tmp_path / "stale", [bol.list_entry()], [])  # an older listing, loaded late
    assert load(warehouse, stale, FIRST).invoices.updated == 0
    assert one(warehouse, "SELECT open_amount FROM bol.invoices") == [(Decimal("0.00"),)]


@pytest.mark.parametrize("status", ["xlsx_only", "missing"])
def test_an_invoice_without_json_specification_is_recorded_and_reported_once(
    warehouse: WarehouseTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(report.alerts, "deliver", lambda alert, context: sent.append(alert) or Delivery.SENT)
    document = {"invoiceId": bol.INVOICE_ID, "specification": status, "read_at": "2026-03-02T08:00:00+00:00"}
    folder = stage(tmp_path / "run", [bol.list_entry()], [document])
    loaded = load(warehouse, folder)
    assert (loaded.invoices.inserted, loaded.lines.inserted, loaded.held) == (1, 0, [])
    assert one(
        warehouse,
        "SELECT specification_status, specification_read, reconciled, total_excl_vat, total_vat, total_incl_vat, "
        "line_count FROM bol.invoices",
    ) == [(status, False, False, Decimal("-26.85"), Decimal("1.94"), Decimal("-24.91"), None)]
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with connect_warehouse(warehouse) as conn:
        note = report.report_without_specification(conn, "bol_shop", RETAILER, {}, now)
        assert note is not None
        assert bol.INVOICE_ID in note
        assert report.report_without_specification(conn, "bol_shop", RETAILER, {}, now) is None
    assert len(sent) == 1
    assert bol.INVOICE_ID in sent[0].body
    assert status in rows(warehouse, "invoices")[0]
    load(warehouse, folder, LATER)
    with connect_warehouse(warehouse) as conn:
        assert report.report_without_specification(conn, "bol_shop", RETAILER, {}, now) is None
    assert len(sent) == 1


def test_an_alert_that_could_not_be_sent_is_sent_by_the_next_load(
    warehouse: WarehouseTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = iter([Delivery.FAILED, Delivery.SENT])
    monkeypatch.setattr(report.alerts, "deliver", lambda alert, context: next(outcomes))
    document = {"invoiceId": bol.INVOICE_ID, "specification": "missing", "read_at": "2026-03-02T08:00:00+00:00"}
    load(warehouse, stage(tmp_path / "run", [bol.list_entry()], [document]))
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with connect_warehouse(warehouse) as conn:
        assert report.report_without_specification(conn, "bol_shop", RETAILER, {}, now) is not None
        assert report.report_without_specification(conn, "bol_shop", RETAILER, {}, now) is not None
        assert report.report_without_specification(conn, "bol_shop", RETAILER, {}, now) is None


def test_an_entry_that_names_no_usable_invoice_is_held_unkeyed(warehouse: WarehouseTarget, tmp_path: Path) -> None:
    loaded = load(warehouse, stage(tmp_path / "run", [bol.list_entry(invoiceId="45\x00")], []))
    assert [h.key.startswith("unkeyed:") for h in loaded.held] == [True]
    assert one(warehouse, "SELECT count(*) FROM bol.invoices") == [(0,)]
