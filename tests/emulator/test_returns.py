"""``GET /retailer/returns`` and ``/returns/{return-id}``: filters, order, paging, shapes, consistency with the
orders (returns of shipped units), bol's reason and handling enums, and the return actions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.emulator.business_helpers import all_pages, table
from tests.emulator.conftest import Api
from tests.support.fixture_server import BOL_API_DIR

SPEC = json.loads((BOL_API_DIR / "retailer-v10.openapi.json").read_text(encoding="utf-8"))
HANDLING_RESULTS = set(SPEC["components"]["schemas"]["ReturnRequest"]["properties"]["handlingResult"]["enum"])
LISTS = [(method, handled) for method in ("FBR", "FBB") for handled in ("false", "true")]


def spec_reasons() -> dict[str, set[str]]:
    """mainReason -> allowed detailedReasons, read from the table in the spec's ReturnReason description."""
    reasons: dict[str, set[str]] = {}
    for line in SPEC["components"]["schemas"]["ReturnReason"]["description"].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if (
            line.startswith("|")
            and len(cells) == 3
            and cells[0]
            and not set(cells[0]) <= {"-"}
            and cells[0] != "mainReason"
        ):
            reasons[cells[0]] = set() if cells[1] == "-" else {value.strip() for value in cells[1].split(",")}
    return reasons


def returns_of(api: Api, method: str, handled: str) -> list[dict[str, Any]]:
    return all_pages(api, "/retailer/returns", "returns", **{"fulfilment-method": method, "handled": handled})


def test_the_spec_table_is_read() -> None:
    reasons = spec_reasons()
    assert len(reasons) == 8
    assert reasons["Artikel werkt niet"] == set()
    assert "Te klein" in reasons["Verkeerde maat of afmeting"]


def test_the_four_lists_hold_every_return_once_in_bols_order(api: Api) -> None:
    truth = {row["return_id"]: row for row in table(api, "returns")}
    seen: Counter[str] = Counter()
    for method, handled in LISTS:
        listed = returns_of(api, method, handled)
        seen.update(r["returnId"] for r in listed)
        moments = [datetime.fromisoformat(r["registrationDateTime"]) for r in listed]
        assert moments == sorted(moments, reverse=handled == "true")
        for entry in listed:
            row = truth[entry["returnId"]]
            assert entry["fulfilmentMethod"] == row["fulfilment_method"] == method
            assert row["handled"] is (handled == "true")
            assert all(item["handled"] is (handled == "true") for item in entry["returnItems"])
            assert set(entry) == {"returnId", "registrationDateTime", "fulfilmentMethod", "returnItems"}
            assert all("customerDetails" not in item and "title" not in item for item in entry["returnItems"])
            assert datetime.fromisoformat(entry["registrationDateTime"]) == datetime.fromisoformat(row["registered_at"])
    assert seen == Counter(list(truth))


def test_missing_filters_default_to_unhandled_fbr(api: Api) -> None:
    implicit = api.get("/retailer/returns")
    assert implicit.status_code == 200
    assert implicit.json()["returns"]
    explicit = api.get("/retailer/returns", params={"handled": "false", "fulfilment-method": "FBR"})
    assert implicit.content == explicit.content


@pytest.mark.parametrize(
    ("params", "name"),
    [({"handled": "yes"}, "handled"), ({"fulfilment-method": "ALL"}, "fulfilment-method"), ({"page": "0"}, "page")],
)
def test_bad_filters_are_400_naming_the_parameter(api: Api, params: dict[str, str], name: str) -> None:
    response = api.get("/retailer/returns", params=params)
    assert response.status_code == 400
    assert [v["name"] for v in response.json()["violations"]] == [name]


def test_returns_are_of_shipped_units_with_bols_enums(api: Api) -> None:
    orders = {row["order_item_id"]: row for row in api.truth()}
    reasons = spec_reasons()
    returned: Counter[str] = Counter()
    items = table(api, "return-items")
    results = table(api, "return-processing-results")
    assert items
    assert results
    for item in items:
        assert item["main_reason"] in reasons
        assert item["detailed_reason"] is None or item["detailed_reason"] in reasons[item["main_reason"]]
        if item["order_item_id"] is not None:
            order_row = orders[item["order_item_id"]]
            assert (order_row["order_id"], order_row["ean"]) == (item["order_id"], item["ean"])
            returned[item["order_item_id"]] += item["expected_quantity"]
        processed = [r for r in results if r["rma_id"] == item["rma_id"]]
        assert sum(r["quantity"] for r in processed) <= item["expected_quantity"]
        assert bool(processed) is item["handled"]
    for item_id, units in returned.items():
        assert units <= orders[item_id]["quantity_shipped"]
    for result in results:
        assert result["handling_result"] in HANDLING_RESULTS
        rejected = result["handling_result"] == "RETURN_DOES_NOT_MEET_CONDITIONS"
        assert result["processing_result"] == ("REJECTED" if rejected else "ACCEPTED")


def test_a_bigger_history_has_every_kind_of_outcome(big_api: Api) -> None:
    results = table(big_api, "return-processing-results")
    assert {r["processing_result"] for r in results} == {"ACCEPTED", "REJECTED"}
    assert len({r["handling_result"] for r in results}) >= 4
    items = table(big_api, "return-items")
    assert {i["fulfilment_method"] for i in items} == {"FBR", "FBB"}
    assert any(not i["handled"] for i in items)


def test_some_returns_are_of_orders_older_than_the_history(api: Api) -> None:
    order_ids = {row["order_id"] for row in api.truth()}
    foreign = [item for item in table(api, "return-items") if item["order_id"] not in order_ids]
    assert foreign
    assert all(item["order_item_id"] is None for item in foreign)
    response = api.get(f"/retailer/returns/{foreign[0]['return_id']}")
    assert response.json()["returnItems"][0]["orderId"] == foreign[0]["order_id"]


def test_detail_has_title_transport_and_customer_details(api: Api) -> None:
    item = table(api, "return-items")[0]
    response = api.get(f"/retailer/returns/{item['return_id']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.retailer.v10+json;charset=UTF-8"
    body = response.json()
    detail = next(i for i in body["returnItems"] if i["rmaId"] == item["rma_id"])
    assert detail["title"] == item["title"]
    assert detail["customerDetails"] == item["customer_details"]
    assert detail["customerDetails"]["salutation"] in ("MALE", "FEMALE", "UNKNOWN")
    assert detail.get("trackAndTrace") == item["track_and_trace"]
    assert api.get("/retailer/returns/99999999").status_code == 404


def test_a_return_handled_long_after_registration_lands_deep_in_the_handled_list(api: Api) -> None:
    oldest = returns_of(api, "FBR", "false")[0]
    registered = datetime.fromisoformat(oldest["registrationDateTime"])
    assert (datetime.now(UTC) - registered).days >= 1
    fresh = api.world("register_return", 1)
    api.world("handle_return", rma_id=fresh["rma_ids"][0], handling_result="EXCHANGE_PRODUCT")
    handled = api.world("handle_return", rma_id=oldest["returnItems"][0]["rmaId"])
    assert handled["return_ids"] == [oldest["returnId"]]
    listed = returns_of(api, "FBR", "true") + returns_of(api, "FBB", "true")
    ids = [r["returnId"] for r in listed]
    assert oldest["returnId"] in ids
    assert ids.index(oldest["returnId"]) > ids.index(fresh["return_ids"][0])
    entry = listed[ids.index(oldest["returnId"])]
    result = entry["returnItems"][0]["processingResults"][-1]
    assert result["handlingResult"] == "RETURN_RECEIVED"
    assert (datetime.fromisoformat(result["processingDateTime"]) - registered).days >= 1
    assert oldest["returnId"] not in {r["returnId"] for r in returns_of(api, "FBR", "false")}


def test_partly_accepted_return(api: Api) -> None:
    row = next(r for r in api.truth() if r["quantity_shipped"] >= 2)
    made = api.world(
        "register_return",
        order_item_id=row["order_item_id"],
        quantity=2,
        main_reason="Anders",
        detailed_reason="Ik heb me bedacht",
        customer_comments="Toch niet nodig",
    )
    rma = made["rma_ids"][0]
    api.world("handle_return", rma_id=rma, quantity=1)
    api.world("handle_return", rma_id=rma, handling_result="RETURN_DOES_NOT_MEET_CONDITIONS")
    results = [r for r in table(api, "return-processing-results") if r["rma_id"] == rma]
    assert [(r["seq"], r["quantity"], r["processing_result"]) for r in results] == [
        (1, 1, "ACCEPTED"),
        (2, 1, "REJECTED"),
    ]
    item = next(i for i in table(api, "return-items") if i["rma_id"] == rma)
    assert (item["main_reason"], item["detailed_reason"], item["customer_comments"]) == (
        "Anders",
        "Ik heb me bedacht",
        "Toch niet nodig",
    )


def test_return_actions_reject_bad_input(api: Api) -> None:
    row = next(r for r in api.truth() if r["quantity_shipped"] == 0)

    def status(**body: Any) -> int:
        return api.control("POST", "/world", json={"client_id": "demo-client-a", **body}).status_code

    assert status(action="register_return", count=1) == 200
    assert status(action="register_return", order_item_id=row["order_item_id"]) == 400
    assert status(action="register_return", order_item_id="nope") == 400
    assert status(action="register_return", count=1, main_reason="Geen zin") == 400
    assert status(action="handle_return", rma_id="nope") == 400
    assert status(action="handle_return", count=1, handling_result="LOST") == 400
    assert status(action="register_return", client_id="nobody") == 404


def test_many_returns_page_by_50(api: Api) -> None:
    made = api.world("register_return", 120)
    assert len(made["return_ids"]) > 50
    fbr = [row for row in table(api, "returns") if row["fulfilment_method"] == "FBR" and not row["handled"]]
    first = api.get("/retailer/returns", params={"handled": "false", "fulfilment-method": "FBR"}).json()["returns"]
    assert len(first) == min(50, len(fbr))
    assert len(returns_of(api, "FBR", "false")) == len(fbr) > 50
