"""The emulator's time: the wall clock, shifted so that the moment of start reads as the anchor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def wall_now() -> datetime:
    return datetime.now(UTC)


class WorldClock:
    """Time as the world sees it: ``anchor`` (default: now, whole seconds) at start, then real time onwards."""

    def __init__(self, anchor: datetime | None = None, wall: Callable[[], datetime] = wall_now) -> None:
        self.wall = wall
        start = wall().replace(microsecond=0)
        self.anchor = (anchor or start).astimezone(UTC).replace(microsecond=0)
        self.offset = self.anchor - start

    def now(self) -> datetime:
        """Now in UTC, to the second (bol's order timestamps carry no fractions)."""
        return self.wall().replace(microsecond=0) + self.offset

    def now_ms(self) -> datetime:
        """Now in UTC, to the millisecond (offer modification times carry milliseconds)."""
        moment = self.wall() + self.offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
