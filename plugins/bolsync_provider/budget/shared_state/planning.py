"""The reservation rule shared by every backend: FIFO bookings under sliding-window limits, checked again
against the moments requests are really sent.

A request goes through two steps, each one atomic in the backend:

1. **reserve**: book the earliest slot (a point in time) at which sending keeps every window it belongs to
   within its limit, given every booking and send so far. Bookings of one credential are handed out in
   arrival order, so no process starves, and each caller learns up front how long it waits. When that
   slot is now, the request is recorded as sent at once (one round trip).
2. **commit**, at the booked slot: check the windows again, now against the recorded *sends* of the
   others, and record this send at the backend's current time, or say how much longer to wait.

A process that wakes up late for its slot therefore sends late but is recorded late too, and the requests
after it wait for their windows counted from its real send: every window of ``period`` seconds holds at
most ``limit`` recorded sends, whatever the wake-up delays (the last of ``limit + 1`` sends within one
window would have seen the other ``limit`` at its commit). What remains between the record and the request
reaching bol (building it, the network) is what the windows' safety fraction (rate_budget) absorbs.

Entries further in the future than :func:`horizon` can only come from a wall clock that stepped back; they
are ignored (and trimmed), so a clock step never makes a request wait longer than that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bolsync_provider.transport.status import MAX_RETRY_AFTER_SECONDS

#: Slots closer than this are the same instant.
EPSILON = 1e-6
QUEUED_PAUSE = "a 429 pause of the credential"
PROBED_PAUSE = "X-RateLimit-Remaining 0 on this endpoint"
BOOKED_SLOT = "its booked slot"


@dataclass(frozen=True)
class WindowLimit:
    """At most ``limit`` sends of ``key`` in any window of ``period`` seconds.

    ``queued`` limits (the credential's) hand out slots in FIFO order. Other limits (an endpoint's) are
    only checked: when one of them is what binds, nothing is booked and the caller asks again once it
    frees, so a slow endpoint never books far-future credential slots that would block the others.
    """

    key: str
    limit: int
    period: float
    queued: bool
    label: str
    #: Spread the sends evenly (one every period/limit s) instead of allowing a burst of ``limit``: for
    #: short windows, so that network jitter cannot squeeze a burst plus the next one into one window.
    smooth: bool = False


@dataclass(frozen=True)
class KeyState:
    """One key's entries within its window: the latest and the ``limit``-th latest (None: fewer)."""

    latest: float | None
    nth_latest: float | None


@dataclass(frozen=True)
class Reservation:
    """What the caller does next.

    ``sent``: the send is recorded at ``slot`` (now): send at once. ``booked``: a place in line is held
    until ``slot``: sleep until then and commit. Neither: nothing is held; sleep ``delay`` seconds and
    reserve again (or give up when that is too long). ``slot`` is on the backend's clock (epoch seconds).
    """

    delay: float
    booked: bool
    sent: bool
    reason: str
    slot: float


def horizon(limits: Sequence[WindowLimit]) -> float:
    """The longest wait a correct clock can produce: the longest window plus the longest 429 pause.

    A booking, send or pause further ahead than this can only come from a wall clock that stepped back.
    """
    return max((limit.period for limit in limits), default=0.0) + MAX_RETRY_AFTER_SECONDS


def earliest_slot(limit: WindowLimit, state: KeyState) -> float | None:
    """The earliest slot that keeps ``limit`` (entries of a key never go back in time); None: any."""
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
    max_delay: float,
) -> Reservation:
    """Step 1 from the backend's view at ``now``; ``states`` count bookings and sends alike."""
    return _decide(now, now, limits, states, queued_pause_until, probed_pause_until, max_delay, "free")


def plan_commit(
    now: float,
    limits: Sequence[WindowLimit],
    sent_states: Mapping[str, KeyState],
    queued_pause_until: float,
    probed_pause_until: float,
    booked_at: float | None,
    max_delay: float,
) -> Reservation:
    """Step 2 at ``now``; ``sent_states`` count recorded sends only, ``booked_at`` is the held slot."""
    start, reason = now, "free"
    if booked_at is not None and booked_at > now + EPSILON and booked_at <= now + horizon(limits):
        start, reason = booked_at, BOOKED_SLOT  # woke before the slot (a clock offset): not yet
    return _decide(now, start, limits, sent_states, queued_pause_until, probed_pause_until, max_delay, reason)


def _decide(
    now: float,
    start: float,
    limits: Sequence[WindowLimit],
    states: Mapping[str, KeyState],
    queued_pause_until: float,
    probed_pause_until: float,
    max_delay: float,
    reason: str,
) -> Reservation:
    latest_plausible = now + horizon(limits)
    slot = start
    if slot + EPSILON < queued_pause_until <= latest_plausible:
        slot, reason = queued_pause_until, QUEUED_PAUSE
    for limit in limits:
        candidate = earliest_slot(limit, states[limit.key]) if limit.queued else None
        if candidate is not None and candidate > slot + EPSILON:
            slot, reason = candidate, limit.label
    queued_slot = slot
    if slot + EPSILON < probed_pause_until <= latest_plausible:
        slot, reason = probed_pause_until, PROBED_PAUSE
    for limit in limits:
        candidate = None if limit.queued else earliest_slot(limit, states[limit.key])
        if candidate is not None and candidate > slot + EPSILON:
            slot, reason = candidate, limit.label
    delay = max(0.0, slot - now)
    if delay <= EPSILON:
        return Reservation(delay=0.0, booked=False, sent=True, reason=reason, slot=slot)
    booked = slot <= queued_slot + EPSILON and delay <= max_delay
    return Reservation(delay=delay, booked=booked, sent=False, reason=reason, slot=slot)
