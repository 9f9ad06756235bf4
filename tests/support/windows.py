"""Counting requests in sliding windows, as bol (and the emulator) count them."""

from __future__ import annotations

from collections.abc import Iterable


def max_in_window(stamps: Iterable[float], window: float = 1.0) -> int:
    """The most stamps in any half-open window of ``window`` seconds."""
    ordered = sorted(stamps)
    best, left = 0, 0
    for right, stamp in enumerate(ordered):
        while stamp - ordered[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best
