"""Odd ``Retry-After`` values, waits longer than a worker should be held, and JSON that is not UTF-8.

Over real HTTP against the emulator (its ``respond`` fault sends exactly the status, headers and body
given). Tenacity's sleep is recorded instead of slept, so the waits the transport chooses are read exactly.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import itertools
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import tenacity

from bol_emulator import EmulatorHandle
from bolsync_provider.budget.rate_budget import SharedRateBudget
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.errors import BolResponseError, BolRetryLater
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.transport import retry
from bolsync_provider.triggers import offer_export as trigger_module
from bolsync_provider.triggers.offer_export import OfferExportTrigger, first_event
from tests.emulator.conftest import CLIENT_A
from tests.support.virtual_time import VirtualClock

ORDERS = "/retailer/orders"
STATUS = "/shared/process-status/"
BASE = 0.4


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits tenacity would sleep between attempts (recorded, not slept); backoff base 0.4 s."""
    waits: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", BASE)
    monkeypatch.setattr(retry, "MAX_WORKER_WAIT_SECONDS", 180.0)
    return waits


def _hook(make_hook: Callable[..., BolRetailerHook], bol: EmulatorHandle) -> BolRetailerHook:
    return make_hook(bol.base_url, login=CLIENT_A[0], password=CLIENT_A[1])


def _respond(
    bol: EmulatorHandle, prefix: str, status: int, headers: dict[str, str], body: bytes, count: int = 1
) -> None:
    rule = {"kind": "respond", "path_prefix": prefix, "status": status, "headers": headers, "count": count}
    rule["body_base64"] = base64.b64encode(body).decode()
    requests.post(f"{bol.base_url}/_emulator/faults", json=rule, timeout=10).raise_for_status()


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@pytest.mark.parametrize(
    "retry_after",
    ["0", "-5", "-0.5", "past date"],
)
def test_retry_after_zero_negative_or_past_never_retries_faster_than_the_backoff(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], slept: list[float], retry_after: str
) -> None:
    value = _http_date(datetime.now(UTC) - timedelta(hours=1)) if retry_after == "past date" else retry_after
    _respond(bol, ORDERS, 429, {"Retry-After": value, "Content-Type": "application/json"}, b"{}", count=3)
    assert _hook(make_hook, bol).get_orders_page(1)  # the fourth attempt is answered
    assert len(slept) == 3
    for attempt, wait in enumerate(slept, start=1):
        assert wait >= BASE * 2 ** (attempt - 1) / 2, (attempt, wait)  # the backoff's lower bound


def test_a_retry_after_within_the_limit_is_honoured_above_the_backoff(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], slept: list[float]
) -> None:
    _respond(bol, ORDERS, 429, {"Retry-After": "2", "Content-Type": "application/json"}, b"{}")
    assert _hook(make_hook, bol).get_orders_page(1)
    assert len(slept) == 1
    assert 2 <= slept[0] <= 2.25


@pytest.mark.parametrize("retry_after", ["3600", "future date"])
def test_a_retry_after_longer_than_a_worker_is_held_frees_the_worker_and_pauses_the_credential(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], slept: list[float], retry_after: str
) -> None:
    value = _http_date(datetime.now(UTC) + timedelta(minutes=50)) if retry_after == "future date" else retry_after
    seconds = 3000 if retry_after == "future date" else 3600
    _respond(bol, ORDERS, 429, {"Retry-After": value, "Content-Type": "application/json"}, b"{}")
    hook = _hook(make_hook, bol)
    before = datetime.now(UTC)
    with pytest.raises(BolRetryLater, match=r"GET /retailer/orders -> HTTP 429.*frees its worker") as raised:
        hook.get_orders_page(1)
    assert slept == []  # nothing was slept in the worker
    expected = before + timedelta(seconds=seconds)
    assert abs((raised.value.resume_at - expected).total_seconds()) < 5
    assert hook.metrics.as_dict()["retries"] == 0  # no attempt spent
    with pytest.raises(BolRetryLater, match="a 429 pause of the credential"):  # every user of the credential
        hook.get_order("1")


def test_a_budget_wait_longer_than_a_worker_is_held_frees_the_worker() -> None:
    clock = VirtualClock(1_800_000_000.0, itertools.repeat(0.0))
    state = MemorySharedState(clock=clock.time)
    budget = SharedRateBudget(state, "cred:long", "test", 5, 10**9, {}, clock=clock, max_wait=180)
    budget.pause(1000, "429 on GET /x")

    def request() -> None:
        with pytest.raises(BolRetryLater, match=r"waits 1000 s \(a 429 pause of the credential\)") as raised:
            budget.acquire("GET /x")
        assert raised.value.resume_at == datetime.fromtimestamp(1_800_001_000.0, UTC)

    clock.run([request])
    assert clock.sleeps == []
    clock.step(900)  # the pause has 100 s left: within the limit, slept through
    clock.run([lambda: budget.acquire("GET /x")])
    assert clock.sleeps == [pytest.approx(100.0)]


def test_the_export_poll_waits_out_a_long_wait_in_the_triggerer(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = _hook(make_hook, bol)
    monkeypatch.setattr(trigger_module, "BolRetailerHook", lambda conn_id: hook)
    answers: list[Any] = [
        BolRetryLater("bol asks to wait", resume_at=datetime.now(UTC) + timedelta(seconds=0.2)),
        {"processStatusId": "p-1", "status": "SUCCESS", "entityId": "r-1"},
    ]

    def poll(process_status_id: str) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(hook, "get_process_status", poll)
    started = time.monotonic()
    event = asyncio.run(first_event(OfferExportTrigger("bol_test", "p-1", poll_interval=0.05)))
    assert event is not None
    assert (event.payload["status"], event.payload["report_id"]) == ("SUCCESS", "r-1")
    assert time.monotonic() - started >= 0.15  # it waited in the triggerer, then polled again


# --- JSON that is not UTF-8 -----------------------------------------------------------------------------

STATUS_BODY = '{"processStatusId": "p-1", "status": "PENDING", "description": "Zoë\'s export"}'


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (STATUS_BODY.encode("latin-1"), "application/json;charset=ISO-8859-1"),
        (STATUS_BODY.encode("latin-1"), "application/json"),
        (STATUS_BODY.encode("cp1252"), "application/vnd.retailer.v10+json"),
        (codecs.BOM_UTF16_LE + STATUS_BODY.encode("utf-16-le"), "application/json"),
        (STATUS_BODY.encode("utf-32"), "application/json"),
    ],
    ids=["latin-1 declared", "latin-1 undeclared", "cp1252", "utf-16 with bom", "utf-32"],
)
def test_json_that_is_not_utf8_is_refused_naming_the_endpoint(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], body: bytes, content_type: str
) -> None:
    _respond(bol, STATUS, 200, {"Content-Type": content_type}, body)
    with pytest.raises(BolResponseError, match=r"GET /shared/process-status/\{id\} answered 200 .*not UTF-8"):
        _hook(make_hook, bol).get_process_status(f"p-{uuid.uuid4().hex[:6]}")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (STATUS_BODY.encode(), "application/json"),
        (codecs.BOM_UTF8 + STATUS_BODY.encode(), "application/json"),
        (STATUS_BODY.encode(), "application/json;charset=ISO-8859-1"),
    ],
    ids=["utf-8", "utf-8 with bom", "utf-8 mislabelled latin-1"],
)
def test_utf8_json_is_read_as_utf8_whatever_its_label(
    bol: EmulatorHandle, make_hook: Callable[..., BolRetailerHook], body: bytes, content_type: str
) -> None:
    _respond(bol, STATUS, 200, {"Content-Type": content_type}, body)
    status = _hook(make_hook, bol).get_process_status("p-1")
    assert status["description"] == "Zoë's export"
