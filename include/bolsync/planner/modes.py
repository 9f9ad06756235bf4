"""The planner's two ways to estimate a day: ``probe`` (a few order-list calls) and ``history`` (no API call)."""

from __future__ import annotations

from typing import Literal

Mode = Literal["probe", "history"]
MODES: tuple[Mode, ...] = ("probe", "history")
