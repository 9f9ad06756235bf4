"""``anchor``: the world is generated at a fixed "now" and its clock runs on from there, so two emulators with
the same seed and anchor serve byte-identical data, whenever they were started."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bol_emulator import EmulatorHandle, start_emulator
from tests.emulator.conftest import CLIENT_A, CLIENT_B, Api, small_config

ANCHOR = datetime(2025, 6, 15, 10, 30, tzinfo=UTC)
V11 = "application/vnd.retailer.v11+json"
V10_CSV = "application/vnd.retailer.v10+csv"


def anchored(anchor: datetime = ANCHOR, **overrides: Any) -> EmulatorHandle:
    return start_emulator(small_config(anchor=anchor, export_pending_polls=0, **overrides))


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[EmulatorHandle, EmulatorHandle]]:
    """Two emulators with the same seed and anchor, started more than a second apart."""
    with anchored() as first:
        time.sleep(1.2)
        with anchored() as second:
            yield first, second


def _ok(response: Any) -> bytes:
    assert response.status_code == 200, response.text
    return bytes(response.content)


def served(handle: EmulatorHandle) -> list[bytes]:
    """Everything the emulator serves about its world: ground truth, order pages and details, offer pages and
    the export file, each as the raw bytes of its response."""
    handle.reset()
    out: list[bytes] = []
    for credentials in (CLIENT_A, CLIENT_B):
        api = Api(handle, credentials)
        for kind in ("order-items", "offers"):
            out.append(_ok(api.control("GET", f"/accounts/{credentials[0]}/{kind}")))
        for days in range(12):
            day = (ANCHOR - timedelta(days=days)).date().isoformat()
            params = {"status": "ALL", "fulfilment-method": "ALL", "latest-change-date": day}
            page = 1
            while (body := _ok(api.orders(page=page, **params))) != b"{}":
                out.append(body)
                page += 1
        for order_id in sorted({row["order_id"] for row in api.truth(credentials[0])}):
            out.append(_ok(api.get(f"/retailer/orders/{order_id}")))
        cursor: str | None = ""
        while cursor is not None:
            response = api.get("/retailer/offers", params={"page-size": 50, "cursor": cursor or None}, accept=V11)
            out.append(_ok(response))
            cursor = response.json()["page"]["nextCursor"]
        process = api.session.post(
            handle.base_url + "/retailer/offers/export",
            json={"format": "CSV"},
            headers={"Authorization": f"Bearer {api.token}", "Accept": "application/vnd.retailer.v10+json"},
            timeout=10,
        ).json()
        status = api.get(f"/shared/process-status/{process['processStatusId']}").json()
        out.append(_ok(api.get(f"/retailer/offers/export/{status['entityId']}", accept=V10_CSV)))
    return out


def test_same_seed_and_anchor_serve_byte_identical_data(twins: tuple[EmulatorHandle, EmulatorHandle]) -> None:
    first, second = served(twins[0]), served(twins[1])
    assert len(first) > 250
    assert first == second


def test_the_world_is_generated_at_the_anchor(twins: tuple[EmulatorHandle, EmulatorHandle]) -> None:
    handle = twins[0]
    handle.reset()
    assert handle.world.generated_at == ANCHOR
    rows = Api(handle).truth()
    placed = [datetime.fromisoformat(row["order_placed_at"]) for row in rows]
    changed = [datetime.fromisoformat(row["latest_changed_at"]) for row in rows]
    assert ANCHOR - timedelta(days=10) <= min(placed)
    assert max(changed) <= ANCHOR
    assert max(changed) > ANCHOR - timedelta(days=1)
    offers = Api(handle).control("GET", f"/accounts/{CLIENT_A[0]}/offers").json()
    assert max(datetime.fromisoformat(o["last_modified_at"]) for o in offers) <= ANCHOR


def test_the_clock_runs_on_from_the_anchor(twins: tuple[EmulatorHandle, EmulatorHandle]) -> None:
    handle = twins[0]
    handle.reset()
    api = Api(handle)
    [order_id] = api.world("new_orders")["order_ids"]
    placed = datetime.fromisoformat(api.get(f"/retailer/orders/{order_id}").json()["orderPlacedDateTime"])
    assert ANCHOR < placed < ANCHOR + timedelta(minutes=5)
    [offer_id] = api.world("new_offers")["offer_ids"]
    offer = api.get(f"/retailer/offers/{offer_id}", accept=V11).json()
    assert ANCHOR < datetime.fromisoformat(offer["lastModifiedDateTime"]) < ANCHOR + timedelta(minutes=5)
    today = api.orders(**{"latest-change-date": ANCHOR.date().isoformat()})
    assert today.status_code == 200, today.text
    tomorrow = api.orders(**{"latest-change-date": (ANCHOR + timedelta(days=1)).date().isoformat()})
    assert tomorrow.status_code == 400
    assert "lies in the future" in tomorrow.text
    handle.reset()
    assert order_id not in {row["order_id"] for row in api.truth()}


def test_another_anchor_shifts_every_timestamp_and_nothing_else() -> None:
    with anchored() as first, anchored(ANCHOR + timedelta(days=1, seconds=7)) as later:
        a, b = Api(first).truth(), Api(later).truth()
    assert len(a) == len(b) > 0
    shift = timedelta(days=1, seconds=7)
    for row_a, row_b in zip(a, b, strict=True):
        for key in ("order_placed_at", "latest_changed_at"):
            assert datetime.fromisoformat(row_b[key]) - datetime.fromisoformat(row_a[key]) == shift
            row_a.pop(key), row_b.pop(key)
        assert row_a == row_b
