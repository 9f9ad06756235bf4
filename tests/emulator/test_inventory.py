"""``GET /retailer/inventory``: FBB stock per EAN, paging, filters, stock that moves day by day, ``change_stock``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bol_emulator.business_truth import inventory
from tests.emulator.business_helpers import all_pages, movable_world, table
from tests.emulator.conftest import Api

KEYS = {"ean", "bsku", "gradedStock", "regularStock", "title"}


def as_entries(rows: list[dict]) -> list[dict]:
    return [
        {
            "ean": r["ean"],
            "bsku": r["bsku"],
            "gradedStock": r["graded_stock"],
            "regularStock": r["regular_stock"],
            "title": r["title"],
        }
        for r in rows
    ]


def test_every_fbb_ean_over_pages_of_50(big_api: Api) -> None:
    truth = table(big_api, "inventory")
    assert len(truth) > 50
    first = big_api.get("/retailer/inventory").json()["inventory"]
    assert len(first) == 50
    assert all(set(entry) == KEYS for entry in first)
    assert all_pages(big_api, "/retailer/inventory", "inventory") == as_entries(truth)
    fbb = {row["ean"] for row in big_api.truth() if row["fulfilment_method"] == "FBB"}
    assert fbb <= {row["ean"] for row in truth}
    assert all(len(row["bsku"]) == 13 for row in truth)


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"stock": "SUFFICIENT"}, lambda r: r["regular_stock"] >= 10),
        ({"stock": "INSUFFICIENT"}, lambda r: r["regular_stock"] < 10),
        ({"state": "GRADED"}, lambda r: r["graded_stock"] > 0),
        ({"state": "REGULAR"}, lambda r: r["regular_stock"] > 0),
        ({"quantity": "0-5,40-60"}, lambda r: r["regular_stock"] <= 5 or 40 <= r["regular_stock"] <= 60),
        ({"quantity": "1-2", "state": "GRADED"}, lambda r: 1 <= r["graded_stock"] <= 2),
    ],
)
def test_filters(big_api: Api, params: dict[str, str], keep: object) -> None:
    expected = as_entries([r for r in table(big_api, "inventory") if keep(r)])  # type: ignore[operator]
    assert expected
    assert all_pages(big_api, "/retailer/inventory", "inventory", **params) == expected


def test_query_matches_ean_or_title(big_api: Api) -> None:
    row = table(big_api, "inventory")[3]
    assert all_pages(big_api, "/retailer/inventory", "inventory", query=row["ean"]) == as_entries([row])
    word = row["title"].split()[-1].upper()
    found = all_pages(big_api, "/retailer/inventory", "inventory", query=word)
    assert row["ean"] in {e["ean"] for e in found}
    assert all(word.casefold() in e["title"].casefold() for e in found)


@pytest.mark.parametrize(
    "params",
    [{"quantity": "10-5"}, {"quantity": "a-b"}, {"stock": "LOW"}, {"state": "NEW"}, {"page": "-1"}],
)
def test_bad_filters_are_400(big_api: Api, params: dict[str, str]) -> None:
    response = big_api.get("/retailer/inventory", params=params)
    assert response.status_code == 400
    assert [v["name"] for v in response.json()["violations"]] == list(params)


def test_stock_moves_day_by_day_the_same_way_for_the_same_seed() -> None:
    anchor = datetime(2026, 3, 10, 15, tzinfo=UTC)
    first, first_wall = movable_world(anchor)
    second, second_wall = movable_world(anchor)
    today = first.business.read("demo-client-a", lambda state, _: inventory(state))
    first_wall.move(timedelta(hours=3))
    assert first.business.read("demo-client-a", lambda state, _: inventory(state)) == today
    first_wall.move(timedelta(days=2))
    later = first.business.read("demo-client-a", lambda state, _: inventory(state))
    assert {row["as_of"] for row in later} == {"2026-03-12"}
    assert [r["regular_stock"] for r in later] != [r["regular_stock"] for r in today]
    assert [r["ean"] for r in later] == [r["ean"] for r in today]
    second_wall.move(timedelta(days=1))
    second.business.read("demo-client-a", lambda state, _: inventory(state))
    second_wall.move(timedelta(days=1, hours=3))
    assert second.business.read("demo-client-a", lambda state, _: inventory(state)) == later


def test_change_stock(api: Api) -> None:
    row = table(api, "inventory")[0]
    api.world("change_stock", ean=row["ean"], regular_stock=7, graded_stock=2)
    entry = api.get("/retailer/inventory", params={"query": row["ean"]}).json()["inventory"][0]
    assert (entry["regularStock"], entry["gradedStock"]) == (7, 2)
    assert table(api, "inventory")[0]["regular_stock"] == 7
    for body in (
        {"ean": "0000000000000", "regular_stock": 1},
        {"ean": row["ean"]},
        {"ean": row["ean"], "regular_stock": -1},
    ):
        response = api.control("POST", "/world", json={"client_id": "demo-client-a", "action": "change_stock", **body})
        assert response.status_code == 400


def test_a_short_inventory_list_shows_its_first_eans_until_cleared(big_api: Api) -> None:
    truth = table(big_api, "inventory")
    big_api.fault(kind="short_inventory", keep=3)
    assert all_pages(big_api, "/retailer/inventory", "inventory") == as_entries(truth[:3])
    assert all_pages(big_api, "/retailer/inventory", "inventory", query=truth[10]["ean"]) == []
    assert all_pages(big_api, "/retailer/inventory", "inventory", query=truth[1]["ean"]) == as_entries(truth[1:2])
    assert big_api.control("GET", "/faults").json()["business_faults"] == [
        {"kind": "short_inventory", "keep": 3, "client_id": None}
    ]
    big_api.fault(kind="short_inventory", keep=0)
    assert big_api.get("/retailer/inventory").json() == {}
    for bad in (-1, "3", True):
        assert big_api.control("POST", "/faults", json={"kind": "short_inventory", "keep": bad}).status_code == 400
    big_api.control("DELETE", "/faults")
    assert all_pages(big_api, "/retailer/inventory", "inventory") == as_entries(truth)
