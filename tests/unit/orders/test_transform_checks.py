"""``OrderChecks``: every kind of value the warehouse cannot hold is refused with a typed error naming the order,
the item and the field; what bol really sends (schema drift included) never is."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolsync.orders.transform import OrderChecks, without_personal_data
from bolsync.runs.audit import FATAL_ERRORS
from bolsync.runs.quarantine import InvalidRecord, Rejected, partition
from tests.unit.orders.test_transform import _item, _order
from tests.unit.orders.test_transform_properties import PROPERTIES, _details, _reduced_orders

EXTRACTED = datetime(2026, 11, 21, 3, tzinfo=UTC)
CHECKS = OrderChecks(EXTRACTED + timedelta(hours=1))
#: Later than every time the property strategies generate (2024-2028).
LENIENT = OrderChecks(datetime(2029, 1, 1, tzinfo=UTC))
CHANGED = "2026-11-20T10:00:00+01:00"


def _entry(**item: Any) -> dict[str, Any]:
    return {"orderId": "A1", "orderPlacedDateTime": CHANGED, "orderItems": [_item("1", CHANGED, **item)]}


def _detail() -> dict[str, Any]:
    order = without_personal_data(_order())
    for item in order["orderItems"]:
        item["latestChangedDateTime"] = CHANGED
    return order


def _refused(check: Any, record: dict[str, Any]) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as raised:
        check(record)
    return raised.value


# (field, bad value, what the message says): the values the issue lists, and their kin.
LIST_VALUES = [
    ("quantity", 3_000_000_000, "3000000000 is outside INTEGER (-2147483648..2147483647)"),
    ("quantityShipped", -(2**31) - 1, "outside INTEGER"),
    ("quantity", "3", "quantity is a string ('3'), not a whole number"),
    ("quantity", float("nan"), "NaN is not a whole number"),
    ("quantity", float("inf"), "Infinity is not a whole number"),
    ("quantity", 2.5, "2.5 is not a whole number"),
    ("quantity", True, "quantity is a boolean (True), not a whole number"),
    ("quantityCancelled", {"n": 1}, "quantityCancelled is an object, not a whole number"),
    ("cancellationRequest", "false", "is a string ('false'), not true or false"),
    ("latestChangedDateTime", None, "is missing (the warehouse column is NOT NULL)"),
    ("latestChangedDateTime", "2026-11-20T10:00:00", "has no timezone"),
    ("latestChangedDateTime", "9999-12-31T23:59:59+01:00", "is later than the extract itself"),
    ("latestChangedDateTime", "2026-11-21T05:30:00+01:00", "is later than the extract itself"),  # 1.5 h after
    ("latestChangedDateTime", "0001-01-01T00:30:00+01:00", "is before 1970"),
    ("latestChangedDateTime", "yesterday", "is not an ISO 8601 date/time"),
    ("latestChangedDateTime", 1732093200, "is a number (1732093200), not an ISO 8601 date/time"),
    ("ean", "87\x0085", "contains the control character U+0000"),
    ("fulfilmentStatus", ["OPEN"], "fulfilmentStatus is an array, not a string"),
    ("orderItemId", "", "orderItemId is missing"),
]


@pytest.mark.parametrize(("field", "value", "says"), LIST_VALUES, ids=[f"{f}={v!r}" for f, v, _ in LIST_VALUES])
def test_a_list_entry_value_the_warehouse_cannot_hold_is_refused_naming_order_item_and_field(
    field: str, value: Any, says: str
) -> None:
    error = _refused(CHECKS.list_entry, _entry(**{field: value}))
    assert error.key == "A1"
    assert error.field == f"orderItems[0].{field}"
    assert str(error).startswith("bol sent malformed order data: order 'A1' item ")
    assert f": {field} " in str(error)
    assert says in str(error)
    assert isinstance(error, FATAL_ERRORS)  # typed: outside the quarantine, never retried


DETAIL_CHANGES = [
    (
        "orderItems[0].unitPrice",
        lambda o: o["orderItems"][0].update(unitPrice=12_345_678_901.0),
        "beyond DECIMAL(12,2)",
    ),
    ("orderItems[0].totalPrice", lambda o: o["orderItems"][0].update(totalPrice=float("inf")), "Infinity is not"),
    ("orderItems[0].commission", lambda o: o["orderItems"][0].update(commission=float("nan")), "NaN is not a finite"),
    ("orderItems[0].unitPrice", lambda o: o["orderItems"][0].update(unitPrice="Infinity"), "a string ('Infinity')"),
    ("orderItems[0].quantity", lambda o: o["orderItems"][0].update(quantity=3_000_000_000), "outside INTEGER"),
    ("orderItems[1].latestChangedDateTime", lambda o: o["orderItems"][1].pop("latestChangedDateTime"), "missing"),
    ("orderItems[0].discounts[0].amount", lambda o: o["orderItems"][0].update(discounts=[{"amount": "1"}]), "string"),
    ("orderItems[0].discounts", lambda o: o["orderItems"][0].update(discounts=[{"amount": 9e9}] * 2), "their total"),
    ("orderItems[0].discounts[0]", lambda o: o["orderItems"][0].update(discounts=[3]), "is a number (3), not an obj"),
    (
        "orderItems[0].fulfilment.expiryDate",
        lambda o: o["orderItems"][0]["fulfilment"].update(expiryDate="soon"),
        "8601",
    ),
    ("orderItems[0].offer", lambda o: o["orderItems"][0].update(offer="8f1183e3"), "is a string ('8f1183e3'), not an"),
    ("orderItems[0].product.title", lambda o: o["orderItems"][0]["product"].update(title={"nl": "x"}), "not text"),
    ("orderItems[1]", lambda o: o["orderItems"].__setitem__(1, "6107771546"), "is a string ('6107771546'), not an"),
    ("orderItems", lambda o: o.update(orderItems={"orderItemId": "1"}), "is an object, not an array"),
    ("orderPlacedDateTime", lambda o: o.update(orderPlacedDateTime="2099-01-01T00:00:00+01:00"), "later than"),
    ("pickUpPoint", lambda o: o.update(pickUpPoint="no"), "pickUpPoint is a string ('no'), not true or false"),
    ("shipmentDetails.countryCode", lambda o: o.update(shipmentDetails={"countryCode": 31}), None),
    ("orderId", lambda o: o.update(orderId="10428\x1f23870"), "U+001F"),
]


@pytest.mark.parametrize(("field", "change", "says"), DETAIL_CHANGES, ids=[f for f, _, _ in DETAIL_CHANGES])
def test_a_full_order_value_the_warehouse_cannot_hold_is_refused(field: str, change: Any, says: str | None) -> None:
    order = _detail()
    change(order)
    if says is None:  # a whole number as a code is stored as its text
        CHECKS.detail(order)
        return
    error = _refused(CHECKS.detail, order)
    assert error.field == field
    assert says in str(error)
    assert error.key == (None if field == "orderId" else "1042823870")


def test_a_personal_block_that_is_no_object_is_refused_without_its_content() -> None:
    order = _order()
    order["shipmentDetails"] = "Hans de Grote, Skywalkerstraat 199, 1234AB PLATOONDORP"
    error = _refused(CHECKS.detail, without_personal_data(order))
    assert error.field == "shipmentDetails"
    assert "Skywalkerstraat" not in str(error)
    assert "personal data removed" in str(error)


def test_the_captured_order_and_the_clean_list_entry_are_accepted() -> None:
    CHECKS.detail(_detail())
    CHECKS.list_entry(_entry())
    CHECKS.list_entry(_entry(quantity=3.0, ean=8712626055143))  # 3.0 is the whole number 3; an ean as a number


def test_partition_keeps_the_raw_record_and_names_unusable_keys_by_a_hash() -> None:
    bad_id = {**_entry(), "orderId": "A\x002"}
    good, rejected = partition([_entry(), _entry(quantity=2**40), bad_id, bad_id], CHECKS.list_entry)
    assert good == [_entry()]
    big, unkeyed, again = rejected
    assert (big.key, big.field) == ("A1", "orderItems[0].quantity")
    assert '"quantity":1099511627776' in big.raw_json
    assert unkeyed.key.startswith("unkeyed:")
    assert not unkeyed.keyed
    assert again.key == unkeyed.key  # the same record is the same key: held once
    assert "\\u0000" in unkeyed.raw_json
    assert unkeyed.raw_json.isascii()
    nan = Rejected.of(InvalidRecord("x", key="A1", field="f"), {"unitPrice": float("nan")})
    assert nan.raw_json == '{"unitPrice":NaN}'  # as bol sent it


# --- properties: what bol sends is accepted, one bad value anywhere is refused naming it ----------------------


@PROPERTIES
@given(_details())
def test_schema_drift_in_full_orders_is_accepted_and_only_a_missing_change_time_refused(details: list[dict]) -> None:
    for order in details:
        stripped = without_personal_data(order)
        missing = [n for n, item in enumerate(order["orderItems"]) if item.get("latestChangedDateTime") is None]
        if not missing:
            LENIENT.detail(stripped)
            continue
        error = _refused(LENIENT.detail, stripped)
        assert error.field == f"orderItems[{missing[0]}].latestChangedDateTime"
        assert error.key == order["orderId"]


@PROPERTIES
@given(_reduced_orders())
def test_schema_drift_in_list_entries_is_accepted(orders: list[dict]) -> None:
    for order in orders:
        LENIENT.list_entry(order)


_BAD = {
    "quantity": st.one_of(
        st.integers(2**31, 2**63), st.integers(-(2**63), -(2**31) - 1), st.text(max_size=5), st.booleans()
    ),
    "cancellationRequest": st.one_of(st.text(max_size=5), st.integers(), st.floats()),
    "latestChangedDateTime": st.one_of(
        st.none(),
        st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(lambda d: d.isoformat()),  # no zone
        st.datetimes(datetime(2029, 1, 2), datetime(9000, 1, 1), timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    ),
}
_BAD_DETAIL = {
    **_BAD,
    "unitPrice": st.one_of(
        st.floats(min_value=1e10, allow_infinity=True), st.just(float("nan")), st.text(max_size=5), st.booleans()
    ),
}


@PROPERTIES
@given(_reduced_orders(), st.data())
def test_one_bad_value_anywhere_in_a_list_entry_is_refused_naming_it(orders: list[dict], data: st.DataObject) -> None:
    entry = copy.deepcopy(data.draw(st.sampled_from(orders)))
    number = data.draw(st.integers(0, len(entry["orderItems"]) - 1))
    field = data.draw(st.sampled_from(sorted(_BAD)))
    entry["orderItems"][number][field] = data.draw(_BAD[field])
    _, [rejected] = partition([entry], LENIENT.list_entry)
    assert rejected.key == entry["orderId"]
    assert rejected.field == f"orderItems[{number}].{field}"
    assert f"item '{entry['orderItems'][number]['orderItemId']}': {field} " in rejected.reason


@PROPERTIES
@given(_details(), st.data())
def test_one_bad_value_anywhere_in_a_full_order_is_refused_naming_it(details: list[dict], data: st.DataObject) -> None:
    order = copy.deepcopy(data.draw(st.sampled_from(details)))
    for item in order["orderItems"]:
        item["latestChangedDateTime"] = CHANGED
    number = data.draw(st.integers(0, len(order["orderItems"]) - 1))
    field = data.draw(st.sampled_from(sorted(_BAD_DETAIL)))
    order["orderItems"][number][field] = data.draw(_BAD_DETAIL[field])
    error = _refused(LENIENT.detail, without_personal_data(order))
    assert error.key == order["orderId"]
    assert error.field == f"orderItems[{number}].{field}"
