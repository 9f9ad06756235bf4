"""The deferrable export wait: serialize round trip, and the trigger polling the emulator over HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import requests

from bolsync_provider.transport import retry
from bolsync_provider.triggers import offer_export as trigger_module
from bolsync_provider.triggers.offer_export import OfferExportTrigger, first_event
from tests.emulator.conftest import CLIENT_A


@pytest.fixture
def hook(emulator, make_hook, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.01)
    requests.post(f"{emulator.base_url}/_emulator/reset", timeout=10).raise_for_status()
    built = make_hook(emulator.base_url, login=CLIENT_A[0], password=CLIENT_A[1])
    monkeypatch.setattr(trigger_module, "BolRetailerHook", lambda conn_id: built)
    return built


def _run(trigger: OfferExportTrigger) -> dict:
    event = asyncio.run(first_event(trigger))
    assert event is not None
    return event.payload


def _trigger(process_id: str, **kwargs) -> OfferExportTrigger:
    return OfferExportTrigger("bol_test", process_id, poll_interval=0.05, max_poll_interval=0.1, **kwargs)


def test_serialize_round_trip() -> None:
    trigger = OfferExportTrigger(
        "bol_shop", "abc-123", poll_interval=2, max_poll_interval=30, timeout_seconds=60, carry={"x": [1]}
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "bolsync_provider.triggers.offer_export.OfferExportTrigger"
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["started_at"] == trigger.started_at  # the deadline survives a triggerer restart


def test_success_after_pending_polls(hook, emulator) -> None:
    requests.post(f"{emulator.base_url}/_emulator/config", json={"export_pending_polls": 2}, timeout=10)
    process = hook.request_offer_export()
    assert process["status"] == "PENDING"
    event = _run(_trigger(process["processStatusId"], carry={"conn_id": "bol_test"}))
    assert event["status"] == "SUCCESS"
    assert event["carry"] == {"conn_id": "bol_test"}
    text = hook.download_offer_export(event["report_id"])
    assert text.startswith("offerId,")
    polls = requests.get(f"{emulator.base_url}/_emulator/stats", timeout=10).json()["requests"]
    assert sum(polls["GET /shared/process-status/{process-status-id}"].values()) == 3


@pytest.mark.parametrize("outcome", ["FAILURE", "TIMEOUT"])
def test_failure_and_timeout_end_with_a_clear_error(hook, emulator, outcome: str) -> None:
    requests.post(
        f"{emulator.base_url}/_emulator/faults", json={"kind": "export_outcome", "status": outcome}, timeout=10
    ).raise_for_status()
    process = hook.request_offer_export()
    event = _run(_trigger(process["processStatusId"]))
    assert event["status"] == outcome
    assert f"with {outcome}" in event["message"]
    assert event["report_id"] is None


def test_expired_status_404_stops_polling(hook) -> None:
    event = _run(_trigger(str(uuid.uuid4())))
    assert event["status"] == "EXPIRED"
    assert "404" in event["message"]


def test_still_pending_at_the_deadline(hook, emulator) -> None:
    requests.post(f"{emulator.base_url}/_emulator/config", json={"export_pending_polls": 1000}, timeout=10)
    process = hook.request_offer_export()
    started = time.monotonic()
    event = _run(_trigger(process["processStatusId"], timeout_seconds=0.3))
    assert event["status"] == "STILL_PENDING"
    assert time.monotonic() - started < 5
