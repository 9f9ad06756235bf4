"""bol.order_line_economics against hand-computed values (both engines): commission invoiced and corrected,
an order-level shipping label shared by revenue, a partial return with its refund and return label, a manual
correction, a charge type bol introduced later, a 9 % product, an estimate before invoicing, a cancelled item."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse

T = datetime(2026, 11, 20, 10, tzinfo=UTC)
R = "R1"

# order, item, ean, quantity, shipped, cancelled, unit price incl. VAT, estimated commission
ITEMS = [
    ("O1", "I1", "E1", 2, 2, 0, "24.20", "4.00"),
    ("O1", "I2", "E2", 2, 2, 0, "12.10", "3.00"),
    ("O2", "I3", "E3", 1, 1, 0, "10.90", "2.00"),  # a 9 % product, not invoiced yet
    ("O2", "I4", "E4", 1, 0, 1, "5.00", "1.00"),  # cancelled
]
# invoice line key, charge type, order, order item, amount excl. VAT, VAT
LINES = [
    ("l1", "COMMISSION", "O1", "I1", "4.00", "0.84"),
    ("l2", "CORRECTION_COMMISSION", "O1", "I1", "-2.00", "-0.42"),  # commission back on the returned unit
    ("l3", "TURNOVER", "O1", "I1", "-48.40", "0.00"),  # bol collected it for the seller: not in the net
    ("l4", "CORRECTION_TURNOVER", "O1", "I1", "20.00", "0.00"),  # the returned unit refunded
    ("l5", "PLAZA_RETURN_SHIPPING_LABEL", "O1", "I1", "5.00", "1.05"),
    ("l6", "CORRECTION_CORRECTION", "O1", "I1", "-1.50", "0.00"),  # a manual correction in the seller's favour
    ("l7", "SHIPMENT_LABEL", "O1", None, "6.00", "1.26"),  # one label for the parcel: shared 2 : 1 by revenue
    ("l8", "COMMISSION", "O1", "I2", "3.00", "0.63"),
    ("l9", "SOMETHING_NEW", "O1", "I2", "1.00", "0.21"),  # a charge type the mapping does not know: 'other'
]


def _fill(conn: Any) -> None:
    for order_id, country in (("O1", "NL"), ("O2", "NL")):
        conn.execute(
            "INSERT INTO bol.orders (retailer_id, order_id, order_placed_at, shipment_country_code, first_synced_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [R, order_id, T, country, T],
        )
    for order_id, item_id, ean, quantity, shipped, cancelled, price, commission in ITEMS:
        conn.execute(
            "INSERT INTO bol.order_items (retailer_id, order_id, order_item_id, ean, quantity, quantity_shipped, "
            "quantity_cancelled, unit_price, commission, latest_changed_at, first_synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(12, 2)), CAST(? AS DECIMAL(12, 2)), ?, ?)",
            [R, order_id, item_id, ean, quantity, shipped, cancelled, price, commission, T, T],
        )
    conn.execute("INSERT INTO bol.product_vat_rates (retailer_id, ean, vat_rate) VALUES (?, 'E3', 9.00)", [R])
    for key, charge, order_id, item_id, amount, vat in LINES:
        conn.execute(
            "INSERT INTO bol.invoice_lines (retailer_id, invoice_id, line_key, charge_type, order_id, order_item_id, "
            "amount_excl_vat, vat_amount, first_synced_at) "
            "VALUES (?, '1001', ?, ?, ?, ?, CAST(? AS DECIMAL(12, 2)), CAST(? AS DECIMAL(12, 2)), ?)",
            [R, key, charge, order_id, item_id, amount, vat, T],
        )
    conn.execute(
        "INSERT INTO bol.returns (retailer_id, return_id, registered_at, fulfilment_method, item_count, handled, "
        "result_count, state_fingerprint, observed_at, first_synced_at) VALUES (?, 'RET1', ?, 'FBR', 2, TRUE, 2, "
        "'x', ?, ?)",
        [R, T, T, T],
    )
    for rma_id, result in (("RMA1", "ACCEPTED"), ("RMA2", "REJECTED")):
        conn.execute(
            "INSERT INTO bol.return_item_states (retailer_id, rma_id, return_id, order_id, ean, expected_quantity, "
            "handled, result_count, processed_quantity, observed_at, first_synced_at) "
            "VALUES (?, ?, 'RET1', 'O1', 'E1', 1, TRUE, 1, 1, ?, ?)",
            [R, rma_id, T, T],
        )
        conn.execute(
            "INSERT INTO bol.return_processing_results (retailer_id, rma_id, result_number, return_id, quantity, "
            "processing_result, handling_result, processed_at, first_synced_at) "
            "VALUES (?, ?, 1, 'RET1', 1, ?, 'RETURN_RECEIVED', ?, ?)",
            [R, rma_id, result, T, T],
        )


COLUMNS = (
    "units_shipped, units_returned, revenue_excl_vat, revenue_vat, commission_source, commission_excl_vat, "
    "commission_vat, fees_excl_vat, fees_vat, return_costs_excl_vat, refunds_excl_vat, other_charges_excl_vat, "
    "invoiced_turnover_excl_vat, net_excl_vat"
)


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


def test_what_each_order_line_earned_matches_the_hand_computed_figures(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        _fill(conn)
        rows = conn.query(f"SELECT order_item_id, {COLUMNS} FROM bol.order_line_economics ORDER BY order_item_id")
    got = {row[0]: (row[1], row[2], *(Decimal(str(v)) if v is not None else None for v in row[3:5]), row[5],
                    *(Decimal(str(v)) for v in row[6:])) for row in rows}  # fmt: skip
    # I1: 2 x 24.20 incl. 21 % = 40.00 + 8.40; commission 4.00 - 2.00 back; 2/3 of the 6.00 label; return label
    # 5.00; 20.00 refunded; a 1.50 correction in its favour: 40.00 - 2.00 - 4.00 - 5.00 - 20.00 + 1.50 = 10.50.
    assert got["I1"] == (2, 1, *_d("40.00", "8.40"), "invoice", *_d("2.00", "0.42", "4.00", "0.84", "5.00", "20.00",
                                                                     "-1.50", "-48.40", "10.50"))  # fmt: skip
    # I2: 2 x 12.10 = 20.00 + 4.20; commission 3.00; 1/3 of the label; 1.00 of an unknown charge type.
    assert got["I2"] == (2, 0, *_d("20.00", "4.20"), "invoice", *_d("3.00", "0.63", "2.00", "0.42", "0.00", "0.00",
                                                                    "1.00", "0.00", "14.00"))  # fmt: skip
    # I3: 10.90 incl. 9 % = 10.00 + 0.90; not invoiced: the order's estimate, 21 % VAT on it.
    assert got["I3"] == (1, 0, *_d("10.00", "0.90"), "order_estimate", *_d("2.00", "0.42", "0.00", "0.00", "0.00",
                                                                           "0.00", "0.00", "0.00", "8.00"))  # fmt: skip
    # I4: cancelled, nothing shipped: no revenue, no commission.
    assert got["I4"] == (0, 0, *_d("0.00", "0.00"), "order_estimate", *_d("0.00", "0.00", "0.00", "0.00", "0.00",
                                                                          "0.00", "0.00", "0.00", "0.00"))  # fmt: skip


def test_every_charge_type_seen_maps_to_a_column(warehouse: WarehouseTarget) -> None:
    with connect_warehouse(warehouse) as conn:
        mapping = dict(conn.query("SELECT charge_type, economics_column FROM bol.invoice_charge_types"))
    assert set(mapping.values()) == {"turnover", "refunds", "commission", "fees", "return_costs", "other"}
    for charge in ("TURNOVER", "COMMISSION", "CORRECTION_COMMISSION", "PICK_PACK", "SHIPMENT_LABEL",
                   "SHIPMENT_LABEL_POST", "PLAZA_RETURN_SHIPPING_LABEL", "CORRECTION_TURNOVER", "STOCK",
                   "CORRECTION_CORRECTION"):  # fmt: skip
        assert charge in mapping


@pytest.mark.parametrize("country", ["NL", "BE"])
def test_sales_vat_defaults_per_country(warehouse: WarehouseTarget, country: str) -> None:
    with connect_warehouse(warehouse) as conn:
        rate = conn.scalar("SELECT vat_rate FROM bol.sales_vat_rates WHERE country_code = ?", [country])
    assert Decimal(str(rate)) == Decimal("21.00")
