"""Helpers of the business-stream tests: truth tables, all pages of a list, a world whose clock a test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bol_emulator import EmulatorConfig
from bol_emulator.clock import WorldClock
from bol_emulator.world import World
from tests.emulator.conftest import CLIENT_A, Api

XLSX = "application/vnd.retailer.v10+openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/vnd.retailer.v10+pdf"


def table(api: Api, name: str, client_id: str = CLIENT_A[0]) -> list[dict[str, Any]]:
    """The ground truth of one business table."""
    response = api.control("GET", f"/accounts/{client_id}/{name}")
    assert response.status_code == 200, response.text
    return list(response.json())


def all_pages(api: Api, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every entry of a paged list (pages of 50 until an empty page), asserting each full page but the last."""
    result: list[dict[str, Any]] = []
    page = 1
    while True:
        response = api.get(path, params={**params, "page": page})
        assert response.status_code == 200, response.text
        entries = response.json().get(key, [])
        if not entries:
            assert response.content == b"{}"
            return result
        assert len(entries) <= 50
        result.extend(entries)
        page += 1


class MovableWall:
    """A wall clock a test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def move(self, delta: timedelta) -> None:
        self.moment += delta


def movable_world(anchor: datetime, **config: Any) -> tuple[World, MovableWall]:
    """A small world at ``anchor`` whose time only moves when the test moves it."""
    wall = MovableWall(datetime(2030, 1, 1, tzinfo=UTC))
    values: dict[str, Any] = {"seed": 7, "orders_per_day": 12, "history_days": 10, "anchor": anchor}
    values.update(config)
    return World(EmulatorConfig(**values), WorldClock(anchor, wall)), wall
