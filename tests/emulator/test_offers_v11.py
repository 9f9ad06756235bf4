"""v11 offers: cursor pages, filters, the single offer (v11 and v10 shapes), world changes and ground truth."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from bol_emulator import EmulatorConfig, start_emulator
from bol_emulator.world import World
from tests.emulator.conftest import CLIENT_B, V10, Api, small_config

V11 = "application/vnd.retailer.v11+json"
ZULU_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REQUIRED = {"offerId", "lastModifiedDateTime", "onHoldByRetailer", "condition", "pricing", "fulfilment"}


def offers_page(api: Api, **params: Any) -> requests.Response:
    return api.get("/retailer/offers", params=params, accept=V11)


def all_offers(api: Api, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every offer over all pages, and the number of pages fetched."""
    result: list[dict[str, Any]] = []
    pages = 0
    cursor = params.pop("cursor", None)
    while True:
        response = offers_page(api, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        pages += 1
        body = response.json()
        result.extend(body["offers"])
        cursor = body["page"]["nextCursor"]
        if cursor is None:
            return result, pages


def offer_truth(api: Api, client_id: str = "demo-client-a") -> list[dict[str, Any]]:
    response = api.control("GET", f"/accounts/{client_id}/offers")
    assert response.status_code == 200
    return response.json()


def offer_world(api: Api, action: str, count: int = 1, **extra: Any) -> list[str]:
    body = {"client_id": "demo-client-a", "action": action, "count": count, **extra}
    response = api.control("POST", "/world", json=body)
    assert response.status_code == 200, response.text
    return response.json()["offer_ids"]


def zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_pages_cover_every_offer_once_in_creation_order(api: Api) -> None:
    truth = offer_truth(api)
    assert len(truth) == 60
    offers, pages = all_offers(api, **{"page-size": 7})
    assert pages == 9  # 8 full pages and the 4 left; no empty page as 60 is not a multiple of 7
    assert [o["offerId"] for o in offers] == [row["offer_id"] for row in truth]
    created = [row["created_at"] for row in truth]
    assert created == sorted(created)
    first = offers_page(api, **{"page-size": 7})
    assert first.headers["Content-Type"] == "application/vnd.retailer.v11+json;charset=UTF-8"
    assert first.json()["page"]["pageSize"] == 7
    cursor = json.loads(base64.b64decode(first.json()["page"]["nextCursor"]))
    assert set(cursor) == {"id", "created"}


def test_full_last_page_is_followed_by_an_empty_page(api: Api) -> None:
    offers, pages = all_offers(api, **{"page-size": 20})
    assert len(offers) == 60
    assert pages == 4
    assert offers_page(api).json()["page"]["pageSize"] == 25  # the default


def test_offer_fields(api: Api) -> None:
    offers, _ = all_offers(api, **{"page-size": 100})
    truth = {row["offer_id"]: row for row in offer_truth(api)}
    for offer in offers:
        assert set(offer) >= REQUIRED
        row = truth[offer["offerId"]]
        assert ZULU_MS.match(offer["lastModifiedDateTime"])
        assert datetime.fromisoformat(offer["lastModifiedDateTime"]) == datetime.fromisoformat(row["last_modified_at"])
        assert offer["ean"] == row["ean"]
        assert offer.get("reference") == row["reference"]
        assert offer.get("economicOperatorId") == row["economic_operator_id"]
        assert offer["onHoldByRetailer"] == row["on_hold"]
        assert offer["stock"] == {
            "amount": row["stock_amount"],
            "correctedStock": row["corrected_stock"],
            "managedByRetailer": row["managed_by_retailer"],
        }
        assert offer["pricing"]["bundlePrices"][0] == {"quantity": 1, "unitPrice": row["price"]}
        assert offer["fulfilment"]["method"] == row["fulfilment_method"]
        assert offer["condition"]["category"] == row["condition_category"]
        assert {c["countryCode"] for c in offer["countryAvailabilities"]} == set(row["countries"])
        assert all(c["forSale"] == row["for_sale"] for c in offer["countryAvailabilities"])
    methods = {o["fulfilment"]["method"] for o in offers}
    assert methods == {"FBR", "FBB"}
    assert all(("reference" in o) == (truth[o["offerId"]]["reference"] is not None) for o in offers)
    assert any(o["condition"]["category"] == "SECONDHAND" for o in offers)


def test_offers_match_the_order_items(api: Api) -> None:
    """Order items point at the account's offers (same offer id, EAN and reference)."""
    offers = {row["offer_id"]: row for row in offer_truth(api)}
    for item in api.truth():
        assert item["offer_id"] in offers
        assert offers[item["offer_id"]]["ean"] == item["ean"]
        assert offers[item["offer_id"]]["reference"] == item["offer_reference"]


def test_last_modified_filter(api: Api) -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=5)
    changed = offer_world(api, "change_offers", 3)
    assert len(changed) == 3
    for stamp in (zulu(before), before.isoformat(), before.strftime("%Y-%m-%dT%H:%M:%S")):
        offers, _ = all_offers(api, **{"last-modified-date-time": stamp})
        assert {o["offerId"] for o in offers} == set(changed), stamp
    # inclusive at the boundary
    truth = offer_truth(api)
    oldest_changed = min(row["last_modified_at"] for row in truth if row["offer_id"] in changed)
    since = zulu(datetime.fromisoformat(oldest_changed))
    offers, _ = all_offers(api, **{"last-modified-date-time": since})
    assert {o["offerId"] for o in offers} == set(changed)
    assert offers_page(api, **{"last-modified-date-time": "yesterday"}).status_code == 400


def test_filters(api: Api) -> None:
    truth = offer_truth(api)
    two = [truth[3]["offer_id"], truth[10]["offer_id"]]
    repeated = offers_page(api, **{"offer-ids": two}).json()["offers"]
    assert [o["offerId"] for o in repeated] == two
    comma = offers_page(api, **{"offer-ids": ",".join(two)}).json()["offers"]
    assert [o["offerId"] for o in comma] == two
    assert offers_page(api, eans=truth[5]["ean"]).json()["offers"][0]["offerId"] == truth[5]["offer_id"]
    referenced = next(row for row in truth if row["reference"])
    by_reference = offers_page(api, reference=referenced["reference"]).json()["offers"]
    assert referenced["offer_id"] in {o["offerId"] for o in by_reference}
    for flag in (True, False):
        listed, _ = all_offers(api, **{"for-sale": str(flag).lower(), "page-size": 100})
        assert {o["offerId"] for o in listed} == {row["offer_id"] for row in truth if row["for_sale"] is flag}
    assert offers_page(api, **{"offer-ids": "not-a-uuid"}).status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"page-size": "0"}, {"page-size": "101"}, {"page-size": "x"}, {"cursor": "bm9wZQ=="}, {"for-sale": "maybe"}],
)
def test_invalid_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    response = offers_page(api, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["violations"][0]["name"] == next(iter(params))
    assert response.headers["Content-Type"] == V11


def test_media_types(api: Api) -> None:
    assert api.get("/retailer/offers", accept=V10).status_code == 406
    assert api.get("/retailer/offers", accept="*/*").status_code == 200
    response = api.session.get(
        api.handle.base_url + "/retailer/offers", headers={"Authorization": f"Bearer {api.token}"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(V11)
    assert (
        api.session.post(
            api.handle.base_url + "/retailer/offers", headers={"Authorization": f"Bearer {api.token}", "Accept": V11}
        ).status_code
        == 405
    )


def test_single_offer_v11_and_v10(api: Api) -> None:
    row = offer_truth(api)[0]
    v11 = api.get(f"/retailer/offers/{row['offer_id']}", accept=V11)
    assert v11.status_code == 200
    assert v11.headers["Content-Type"] == "application/vnd.retailer.v11+json;charset=UTF-8"
    assert v11.json()["offerId"] == row["offer_id"]
    assert set(v11.json()) >= REQUIRED
    listed = offers_page(api, **{"offer-ids": row["offer_id"]}).json()["offers"][0]
    assert v11.json() == listed
    v10 = api.get(f"/retailer/offers/{row['offer_id']}", accept=V10)
    assert v10.status_code == 200
    assert v10.headers["Content-Type"] == "application/vnd.retailer.v10+json;charset=UTF-8"
    body = v10.json()
    required_v10 = {"offerId", "ean", "onHoldByRetailer", "pricing", "stock", "fulfilment", "store", "condition"}
    assert required_v10 | {"notPublishableReasons"} <= set(body)
    assert body["condition"]["name"] == row["condition_name"]
    assert body["store"]["productTitle"] == row["product_title"]
    assert body["fulfilment"].get("deliveryCode") == row["delivery_code"]


def test_single_offer_errors(api: Api) -> None:
    assert api.get("/retailer/offers/not-a-uuid", accept=V11).status_code == 400
    missing = api.get("/retailer/offers/00000000-0000-4000-8000-000000000000", accept=V11)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    other = offer_truth(api, CLIENT_B[0])[0]["offer_id"]
    assert api.get(f"/retailer/offers/{other}", accept=V11).status_code == 404
    assert Api(api.handle, CLIENT_B).get(f"/retailer/offers/{other}", accept=V11).status_code == 200
    assert api.get(f"/retailer/offers/{other}", accept="text/csv").status_code == 406


def test_change_offers_with_explicit_values(api: Api) -> None:
    target = offer_truth(api)[2]["offer_id"]
    started = datetime.now(UTC) - timedelta(milliseconds=5)
    changes = {"stock": 7, "reserved": 2, "price": 12.5, "on_hold": True, "reference": "NEW-REF"}
    assert offer_world(api, "change_offers", offer_ids=[target], changes=changes) == [target]
    offer = api.get(f"/retailer/offers/{target}", accept=V11).json()
    assert offer["stock"]["amount"] == 7
    assert offer["stock"]["correctedStock"] == 5
    assert offer["pricing"]["bundlePrices"][0]["unitPrice"] == 12.5
    assert offer["onHoldByRetailer"] is True
    assert offer["reference"] == "NEW-REF"
    assert all(c["forSale"] is False for c in offer["countryAvailabilities"])
    assert datetime.fromisoformat(offer["lastModifiedDateTime"]) >= started
    offer_world(api, "change_offers", offer_ids=[target], changes={"fulfilment_method": "FBB", "reference": None})
    offer = api.get(f"/retailer/offers/{target}", accept=V11).json()
    assert offer["fulfilment"] == {"method": "FBB", "schedule": "BOL_DELIVERY_PROMISE"}
    assert "reference" not in offer


def test_default_change_touches_the_least_recently_modified(api: Api) -> None:
    oldest = sorted(offer_truth(api), key=lambda row: row["last_modified_at"])[:2]
    changed = offer_world(api, "change_offers", 2)
    assert changed == [row["offer_id"] for row in oldest]
    after = {row["offer_id"]: row for row in offer_truth(api)}
    for row in oldest:
        assert after[row["offer_id"]]["last_modified_at"] > row["last_modified_at"]


def test_new_and_deleted_offers(api: Api) -> None:
    deleted = offer_world(api, "delete_offers", 2)
    created = offer_world(api, "new_offers", 3)
    assert len(deleted) == 2
    assert len(created) == 3
    offers, _ = all_offers(api, **{"page-size": 100})
    ids = [o["offerId"] for o in offers]
    assert len(ids) == 61
    assert not set(deleted) & set(ids)
    assert ids[-3:] == created  # newest last
    assert api.get(f"/retailer/offers/{deleted[0]}", accept=V11).status_code == 404
    truth_ids = [row["offer_id"] for row in offer_truth(api)]
    assert truth_ids == ids
    eans = [o["ean"] for o in offers]
    assert len(set(eans)) == len(eans)
    accounts = {a["client_id"]: a for a in api.control("GET", "/accounts").json()}
    assert accounts["demo-client-a"]["offers"] == 61


def test_cursor_survives_changes_between_pages(api: Api) -> None:
    first = offers_page(api, **{"page-size": 10}).json()
    seen = [o["offerId"] for o in first["offers"]]
    truth = [row["offer_id"] for row in offer_truth(api)]
    offer_world(api, "change_offers", offer_ids=[seen[0], truth[30]])  # one already seen, one ahead
    offer_world(api, "delete_offers", offer_ids=[truth[40]])
    created = offer_world(api, "new_offers", 1)
    rest, _ = all_offers(api, **{"page-size": 10, "cursor": first["page"]["nextCursor"]})
    ids = seen + [o["offerId"] for o in rest]
    assert ids == [i for i in truth if i != truth[40]] + created


@pytest.mark.parametrize(
    "body",
    [
        {"action": "change_offers", "offer_ids": ["nope"]},
        {"action": "change_offers", "changes": {"colour": "red"}},
        {"action": "change_offers", "changes": {"stock": -1}},
        {"action": "change_offers", "changes": {"price": 0.5}},
        {"action": "change_offers", "changes": {"fulfilment_method": "FBB", "delivery_code": "1-2d"}},
        {"action": "delete_offers", "offer_ids": "x"},
        {"action": "new_offers", "count": -1},
    ],
)
def test_malformed_offer_actions(api: Api, body: dict[str, Any]) -> None:
    before = offer_truth(api)
    response = api.control("POST", "/world", json={"client_id": "demo-client-a", **body})
    assert response.status_code == 400, response.text
    assert "error" in response.json()
    assert offer_truth(api) == before


def test_ground_truth_endpoint(api: Api) -> None:
    assert api.control("GET", "/accounts/nobody/offers").status_code == 404
    rows = offer_truth(api)
    assert {row["retailer_id"] for row in rows} == {"1000001"}
    for row in rows:
        assert row["created_at"] <= row["last_modified_at"]
        assert row["last_modified_at"].endswith("+00:00")
        assert datetime.fromisoformat(row["last_modified_at"]) <= datetime.now(UTC)


def test_offers_are_seeded_per_account() -> None:
    config = EmulatorConfig(seed=5, orders_per_day=2, history_days=2)
    first, second = World(config), World(config)

    def rows(world: World, client: str) -> list[tuple[str, str, int, float]]:
        return world.with_offers(client, lambda offers: [(o.offer_id, o.ean, o.stock, float(o.price)) for o in offers])

    assert rows(first, "demo-client-a") == rows(second, "demo-client-a")
    assert rows(first, "demo-client-a") != rows(first, "demo-client-b")


def test_reset_restores_offers(api: Api) -> None:
    before = offer_truth(api)
    offer_world(api, "delete_offers", 5)
    api.control("POST", "/reset")
    assert offer_truth(api) == before


def test_v11_offer_rate_limit() -> None:
    with start_emulator(small_config(rate_scale=1.0)) as handle:
        api = Api(handle)
        api.token  # noqa: B018
        started = time.monotonic()
        statuses = [offers_page(api).status_code for _ in range(26)]
        if time.monotonic() - started < 1.0:
            assert statuses == [200] * 25 + [429]
        stats = api.control("GET", "/stats").json()["requests"]["GET /retailer/offers"]
        assert stats.get("200", 0) >= 25


def test_a_short_list_fault_cuts_a_full_sweep_page_and_its_next_cursor(api: Api) -> None:
    everything, pages = all_offers(api, **{"page-size": "10"})
    assert pages > 1
    api.control("POST", "/faults", json={"kind": "short_list", "keep": 3, "client_id": "demo-client-a"})
    since = zulu(datetime(2000, 1, 1, tzinfo=UTC))
    filtered, _ = all_offers(api, **{"page-size": "10", "last-modified-date-time": since})
    assert len(filtered) == len(everything)  # an incremental list is not a full one: not cut
    short, short_pages = all_offers(api, **{"page-size": "10"})
    assert (short, short_pages) == (everything[:3], 1)  # three offers, and no next page named
    assert all_offers(api, **{"page-size": "10"})[0] == everything  # consumed
