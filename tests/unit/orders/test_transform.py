from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolsync.orders.transform import (
    ITEM_DETAIL_DTYPES,
    ITEM_STATUS_DTYPES,
    order_item_detail_rows,
    order_item_status_rows,
    order_rows,
    without_personal_data,
)
from bolsync_provider.errors import BolResponseError
from tests.support.fixture_server import Fixture

PERSONAL = [
    "Hans",
    "de Grote",
    "Skywalkerstraat",
    "verkopen.test2.bol.com",
    "NL123456789B01",
    "99887766",
    "Pieter",
]


def _order() -> dict[str, Any]:
    return json.loads(Fixture.load("200-order").body)


def _item(item_id: str, changed: str, **overrides: Any) -> dict[str, Any]:
    item = {
        "orderItemId": item_id,
        "ean": "8712626055143",
        "fulfilmentMethod": "FBR",
        "fulfilmentStatus": "OPEN",
        "quantity": 2,
        "quantityShipped": 0,
        "quantityCancelled": 0,
        "cancellationRequest": False,
        "latestChangedDateTime": changed,
    }
    item.update(overrides)
    return item


def test_status_rows_have_explicit_dtypes_and_utc_times() -> None:
    orders = [
        {
            "orderId": "A1",
            "orderPlacedDateTime": "2026-11-20T10:00:00+01:00",
            "orderItems": [_item("1", "2026-11-20T23:30:00+01:00")],
        }
    ]
    frame = order_item_status_rows("42", orders)
    assert dict(frame.dtypes.astype(str)) == ITEM_STATUS_DTYPES
    assert frame.loc[0, "latest_changed_at"] == pd.Timestamp("2026-11-20T22:30:00Z")
    assert frame.loc[0, "retailer_id"] == "42"


def test_newest_state_of_an_item_wins_within_a_batch() -> None:
    orders = [
        {
            "orderId": "A1",
            "orderItems": [_item("1", "2026-11-20T12:00:00+01:00", quantityShipped=2, fulfilmentStatus="HANDLED")],
        },
        {"orderId": "A1", "orderItems": [_item("1", "2026-11-20T10:00:00+01:00")]},
    ]
    frame = order_item_status_rows("42", orders)
    assert len(frame) == 1
    assert frame.loc[0, "fulfilment_status"] == "HANDLED"


def test_detail_rows_keep_prices_and_drop_personal_data() -> None:
    details = [without_personal_data(_order())]
    items = order_item_detail_rows("42", details)
    assert dict(items.dtypes.astype(str)) == ITEM_DETAIL_DTYPES
    assert items["unit_price"].tolist() == [19.99, 32.98]
    assert items["product_title"].tolist()[0] == "Star Wars Prequel Trilogy"
    orders = order_rows("42", details)
    assert orders.loc[0, "shipment_country_code"] == "NL"
    text = json.dumps(details) + items.to_csv() + orders.to_csv()
    for value in PERSONAL:
        assert value not in text


def test_detail_status_is_derived_from_counts() -> None:
    order = _order()
    order["orderItems"][0].update(quantity=2, quantityShipped=1, quantityCancelled=1)
    items = order_item_detail_rows("42", [order])
    assert items["fulfilment_status"].tolist() == ["HANDLED", "OPEN"]


def test_missing_required_fields_are_named() -> None:
    with pytest.raises(BolResponseError, match="'orderItemId'"):
        order_item_status_rows("42", [{"orderId": "A1", "orderItems": [{"ean": "1"}]}])
    with pytest.raises(BolResponseError, match="'latestChangedDateTime'"):
        order_item_status_rows("42", [{"orderId": "A1", "orderItems": [_item("1", "")]}])


def test_unknown_and_missing_optional_fields_do_not_break() -> None:
    item = _item("1", "2026-11-20T10:00:00+01:00", brandNewField={"x": 1})
    del item["cancellationRequest"]
    frame = order_item_status_rows("42", [{"orderId": "A1", "orderItems": [item], "extra": True}])
    assert frame.loc[0, "cancellation_request"] is pd.NA


def test_empty_input_gives_typed_empty_frames() -> None:
    assert dict(order_item_status_rows("42", []).dtypes.astype(str)) == ITEM_STATUS_DTYPES
    assert order_rows("42", []).empty


@settings(deadline=None)  # timing is not the property; a busy machine must not fail it
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1", "2", "3"]),
            st.integers(min_value=0, max_value=10_000),
            st.integers(min_value=0, max_value=4),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_dedup_keeps_exactly_the_newest_state_per_item(changes: list[tuple[str, int, int]]) -> None:
    orders = [
        {
            "orderId": "A",
            "orderItems": [_item(item_id, "2026-11-20T00:00:00+00:00", quantityShipped=shipped)],
        }
        for item_id, _, shipped in changes
    ]
    for order, (_, minute, _) in zip(orders, changes, strict=True):
        stamp = pd.Timestamp("2026-11-20T00:00:00Z") + pd.Timedelta(minutes=minute)
        order["orderItems"][0]["latestChangedDateTime"] = stamp.isoformat()
    frame = order_item_status_rows("42", orders)
    assert sorted(frame["order_item_id"]) == sorted({c[0] for c in changes})
    for item_id in frame["order_item_id"]:
        newest = max(c[1] for c in changes if c[0] == item_id)
        row = frame[frame["order_item_id"] == item_id].iloc[0]
        assert row["latest_changed_at"] == pd.Timestamp("2026-11-20T00:00:00Z") + pd.Timedelta(minutes=newest)
