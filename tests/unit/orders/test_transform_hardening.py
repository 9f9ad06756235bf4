"""Control characters and wrong types in bol's order data: free text is cleaned, ids and codes are refused
with a fatal error naming the order, item and field (pure transforms, plus a landing on both engines)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bolsync.orders.spec import ORDER_ITEMS
from bolsync.orders.transform import order_item_detail_rows, order_item_status_rows, order_rows
from bolsync.runs.audit import FATAL_ERRORS
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.errors import BolResponseError
from tests.unit.orders.test_transform import _item, _order


def _dirty(**changes: Any) -> dict[str, Any]:
    """The captured full order with the first item's ``product``/``offer``/top-level fields changed."""
    order = _order()
    item = order["orderItems"][0]
    for key, value in changes.items():
        parent, _, field = key.rpartition("__")
        (item[parent] if parent else item)[field] = value
    return order


def test_control_characters_leave_free_text_and_the_warning_names_each(caplog) -> None:
    order = _dirty(product__title="Star\x00 Wars\x07\ttab\nline\ud800\x9f", offer__reference="Mijn\x1bOffer")
    with caplog.at_level(logging.WARNING, logger="bolsync.orders.transform"):
        frame = order_item_detail_rows("42", [order])
    row = frame.set_index("order_item_id").loc["6107771545"]
    assert ascii(row["product_title"]) == ascii("Star Wars\ttab\nline")  # ascii(): a lone surrogate stays printable
    assert row["offer_reference"] == "MijnOffer"
    assert frame.set_index("order_item_id").loc["6107771546", "product_title"] == "Star Wars - The happy family 2"
    assert "from 2 order text values" in caplog.text
    assert "order '1042823870' item '6107771545' product.title" in caplog.text
    assert "order '1042823870' item '6107771545' offer.reference" in caplog.text


@pytest.mark.parametrize(
    ("changes", "field", "char"),
    [
        ({"orderItemId": "6107771545\x00"}, "orderItemId", "U+0000"),
        ({"offer__offerId": "8f1183e3\x00"}, "offer.offerId", "U+0000"),
        ({"product__ean": "87850563\x1f70398"}, "ean", "U+001F"),
        ({"fulfilment__method": "FBR\x00"}, "fulfilment method", "U+0000"),
        ({"fulfilment__timeFrameType": "REGULAR\n"}, "fulfilment.timeFrameType", "U+000A"),
    ],
)
def test_an_id_or_code_with_a_control_character_is_refused_as_fatal(changes: dict, field: str, char: str) -> None:
    with pytest.raises(BolResponseError) as raised:
        order_item_detail_rows("42", [_dirty(**changes)])
    message = str(raised.value)
    assert message.startswith("bol sent malformed order data: order '1042823870'")
    assert f" {field} " in message
    assert char in message
    assert "never cleaned" in message
    assert isinstance(raised.value, FATAL_ERRORS)  # audited: fails the task at once, no retries


def test_list_pages_and_order_rows_refuse_control_characters_in_keys_too() -> None:
    with pytest.raises(BolResponseError, match=r"order 'A\\x001' item '1': orderId"):
        order_item_status_rows("42", [{"orderId": "A\x001", "orderItems": [_item("1", "2026-11-20T10:00:00Z")]}])
    with pytest.raises(BolResponseError, match=r"item '1\\x7f': orderItemId .* U\+007F"):
        order_item_status_rows("42", [{"orderId": "A1", "orderItems": [_item("1\x7f", "2026-11-20T10:00:00Z")]}])
    with pytest.raises(BolResponseError, match=r"order '1042823870': shipmentDetails.countryCode"):
        order_rows("42", [{**_order(), "shipmentDetails": {"countryCode": "N\x00L"}}])


def test_a_value_of_the_wrong_type_is_malformed_data_naming_its_order() -> None:
    with pytest.raises(BolResponseError, match=r"order 'A1' item '1': quantity 'three' is not a valid Int64"):
        order_item_status_rows(
            "42", [{"orderId": "A1", "orderItems": [_item("1", "2026-11-20T10:00:00Z", quantity="three")]}]
        )
    with pytest.raises(BolResponseError, match=r"item '6107771545': unitPrice"):
        order_item_detail_rows("42", [_dirty(unitPrice={"amount": 1})])


def test_cleaned_titles_land_on_both_engines(warehouse) -> None:
    frame = order_item_detail_rows("42", [_dirty(product__title="Ti\x00tle\x01")])
    with connect_warehouse(warehouse) as conn, conn.staged(frame, ORDER_ITEMS.name) as staged:
        titles = conn.query(f"SELECT product_title FROM {staged} ORDER BY order_item_id")
    assert titles == [("Title",), ("Star Wars - The happy family 2",)]
