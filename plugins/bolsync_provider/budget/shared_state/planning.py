"""The reservation rule shared by every backend: FIFO slots under sliding-window limits.

A request reserves the earliest *slot* (a point in time) at which sending it keeps every window it
belongs to within its limit, given all slots already reserved. Reservations of one credential are
handed out in arrival order, so no process starves; each caller learns up front how long it waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Slots closer than this are the same instant.
EPSILON = 1e-6


@dataclass(frozen=True)
class WindowLimit:
    """At most ``limit`` slots of ``key`` in any window of ``period`` seconds.

    ``queued`` limits (the credential's) hand out slots in FIFO order. Other limits (an endpoint's) are
    only checked: when one of them is what binds, nothing is reserved and the caller asks again once it
    frees, so a slow endpoint never reserves far-future credential slots that would block the others.
    """

    key: str
    limit: int
    period: float
    queued: bool
    label: str
    #: Spread the slots evenly (one every period/limit s) instead of allowing a burst of ``limit``: for
    #: short windows, so that network jitter cannot squeeze a burst plus the next one into one window.
    smooth: bool = False


@dataclass(frozen=True)
class KeyState:
    """What a backend knows about one key: its latest slot and its ``limit``-th latest slot."""

    latest: float | None
    nth_latest: float | None


@dataclass(frozen=True)
class Reservation:
    """``delay`` seconds until the slot; ``committed`` False means: wait, then ask again.

    ``slot`` is the same moment on the backend's clock (epoch seconds).
    """

    delay: float
    committed: bool
    reason: str
    slot: float = 0.0


@dataclass(frozen=True)
class Plan:
    """The slot a backend must record for every limit (when ``reservation.committed``)."""

    slot: float
    reservation: Reservation


def earliest_slot(limit: WindowLimit, state: KeyState) -> float | None:
    """The earliest slot that keeps ``limit`` (slots of a key never go back in time); None: any."""
    bounds = [state.latest] if state.latest is not None else []
    if limit.smooth and state.latest is not None:
        bounds.append(state.latest + limit.period / limit.limit)
    if state.nth_latest is not None:
        bounds.append(state.nth_latest + limit.period)
    return max(bounds) if bounds else None


def plan_reservation(
    now: float,
    limits: Sequence[WindowLimit],
    states: Mapping[str, KeyState],
    queued_pause_until: float,
    probed_pause_until: float,
) -> Plan:
    """Decide the slot for one request, from the backend's view at ``now``."""
    slot, reason = now, "free"
    if queued_pause_until > slot + EPSILON:
        slot, reason = queued_pause_until, "a 429 pause of the credential"
    for limit in limits:
        candidate = earliest_slot(limit, states[limit.key]) if limit.queued else None
        if candidate is not None and candidate > slot + EPSILON:
            slot, reason = candidate, limit.label
    queued_slot = slot
    if probed_pause_until > slot + EPSILON:
        slot, reason = probed_pause_until, "X-RateLimit-Remaining 0 on this endpoint"
    for limit in limits:
        candidate = None if limit.queued else earliest_slot(limit, states[limit.key])
        if candidate is not None and candidate > slot + EPSILON:
            slot, reason = candidate, limit.label
    committed = slot <= queued_slot + EPSILON
    reservation = Reservation(delay=max(0.0, slot - now), committed=committed, reason=reason, slot=slot)
    return Plan(slot=slot, reservation=reservation)
