"""bolsync's metrics through Airflow's metrics facade: StatsD datagrams on a real UDP socket from real API calls
against the emulator (a 429 among them) and from an audit row; a failing metrics backend never breaks a sync."""

from __future__ import annotations

import importlib.util
import logging
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
from airflow.sdk.observability import stats as airflow_stats
from airflow.sdk.observability.metrics import stats_utils

from bol_emulator import EmulatorHandle
from bolsync.runs.audit import audited
from bolsync_provider import stats
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.transport import retry
from tests.emulator.conftest import CLIENT_A
from tests.support import statsd_wire

CONN_ID = "bol_metrics"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    kind: str
    tags: dict[str, str] = field(default_factory=dict)


class StatsdSocket:
    """A UDP socket on 127.0.0.1 that reads what Airflow's StatsD client sends."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.raw: list[str] = []

    def collect(self, quiet: float = 0.5) -> list[Metric]:
        """Every metric received until nothing arrives for ``quiet`` seconds."""
        self.sock.settimeout(quiet)
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                break
            self.raw.extend(data.decode("ascii").splitlines())
        return [_parse(line) for line in self.raw]


def _parse(line: str) -> Metric:
    head, body = line.split(":", 1)
    value, kind = body.split("|")[:2]
    name, *tags = head.split(",")
    return Metric(name, float(value), kind, dict(tag.split("=", 1) for tag in tags))


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.01)


@pytest.fixture(autouse=True)
def _metrics_off_afterwards() -> Iterator[None]:
    yield
    airflow_stats.initialize(factory=NoStatsLogger, export_legacy_names=True)


@pytest.fixture
def statsd_on(monkeypatch: pytest.MonkeyPatch) -> Callable[..., StatsdSocket]:
    """Turn Airflow's StatsD metrics on (``[metrics]`` from the environment, as a deployment sets them) towards
    a fresh UDP socket, the way the task runner initializes them."""

    def start(influxdb_tags: bool = True) -> StatsdSocket:
        receiver = StatsdSocket()
        if importlib.util.find_spec("statsd") is None:
            monkeypatch.setitem(sys.modules, "statsd", statsd_wire)
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(receiver.port))
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED", str(influxdb_tags))
        airflow_stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
        return receiver

    return start


def _hook(make_hook: Callable[..., BolRetailerHook], handle: EmulatorHandle) -> BolRetailerHook:
    return make_hook(handle.base_url, conn_id=CONN_ID, login=CLIENT_A[0], password=CLIENT_A[1])


def _named(metrics: list[Metric], name: str) -> list[Metric]:
    return [m for m in metrics if m.name == f"airflow.{name}"]


def test_api_calls_a_429_waits_tokens_budget_left_and_rows_landed_arrive_as_statsd_datagrams(
    bol: EmulatorHandle,
    make_hook: Callable[..., BolRetailerHook],
    statsd_on: Callable[..., StatsdSocket],
    tmp_path: Path,
) -> None:
    receiver = statsd_on()
    rule = {"kind": "burst_429", "path_prefix": "/retailer/orders", "seconds": 1, "count": 1}
    requests.post(f"{bol.base_url}/_emulator/faults", json=rule, timeout=10).raise_for_status()
    hook = _hook(make_hook, bol)
    orders = hook.get_orders_page(1)
    hook.get_order(str(orders[0]["orderId"]))
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="load", map_index=0, try_number=1, max_tries=0)
    audit: dict[str, Any] = {"conn_id": CONN_ID, "retailer_id": "1000001"}
    with audited({"ti": ti}, tmp_path / "warehouse.duckdb", audit, hook):  # type: ignore[arg-type]
        audit.update(orders_inserted=3, orders_updated=1, items_inserted=5, items_updated=0)

    metrics = receiver.collect()
    tally = hook.metrics
    assert (tally.api_calls, tally.throttled, tally.token_requests) == (3, 1, 1)
    assert all(m.tags["conn_id"] == CONN_ID for m in metrics if m.name.startswith("airflow.bolsync."))

    calls = _named(metrics, "bolsync.api.calls")
    assert {m.kind for m in calls} == {"c"}
    assert sum(m.value for m in calls) == tally.api_calls
    by_status = sorted((m.tags["endpoint"], m.tags["status"]) for m in calls)
    assert by_status == [
        ("get_retailer_orders", "200"),
        ("get_retailer_orders", "429"),
        ("get_retailer_orders_id", "200"),
    ]
    [throttled] = _named(metrics, "bolsync.api.throttled")
    assert (throttled.value, throttled.kind, throttled.tags["endpoint"]) == (1, "c", "get_retailer_orders")
    tokens = _named(metrics, "bolsync.auth.token_requests")
    assert [(m.value, m.kind) for m in tokens] == [(1, "c")]

    waits = _named(metrics, "bolsync.rate_budget.wait")
    assert len(waits) == tally.api_calls
    assert all(m.kind == "ms" and 0 <= m.value < 5000 for m in waits)
    assert sum(m.value for m in waits) / 1000 == pytest.approx(tally.rate_wait_seconds, abs=0.01)

    left = _named(metrics, "bolsync.api.rate_limit_remaining")
    assert {m.kind for m in left} == {"g"}
    assert all(m.value >= 0 and m.value == int(m.value) for m in left)
    assert left[0].tags["endpoint"] == "get_retailer_orders"
    assert left[0].value == 0  # the 429 said none is left

    landed = {(m.tags["table"], m.tags["operation"]): m.value for m in _named(metrics, "bolsync.rows.landed")}
    assert landed == {("orders", "inserted"): 3, ("orders", "updated"): 1, ("order_items", "inserted"): 5}

    wire = "\n".join(receiver.raw)
    assert CLIENT_A[1] not in wire
    assert hook.tokens.get().value not in wire


def test_plain_statsd_gets_the_names_without_tags(statsd_on: Callable[..., StatsdSocket]) -> None:
    receiver = statsd_on(influxdb_tags=False)
    stats.api_call(CONN_ID, "GET /retailer/orders", 200)
    stats.rate_limit_remaining(CONN_ID, "GET /retailer/orders", "17")
    stats.rows_landed(CONN_ID, "offer_snapshots", "inserted", 4)
    assert receiver.collect() == [
        Metric("airflow.bolsync.api.calls", 1, "c"),
        Metric("airflow.bolsync.api.rate_limit_remaining", 17, "g"),
        Metric("airflow.bolsync.rows.landed", 4, "c"),
    ]


class RecordingLogger:
    """A stand-in metrics backend that records what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float, dict[str, Any]]] = []

    def incr(self, stat: str, count: int = 1, rate: float = 1, *, tags: dict[str, Any] | None = None) -> None:
        self.calls.append(("incr", stat, count, tags or {}))

    def gauge(self, stat: str, value: float, *args: Any, tags: dict[str, Any] | None = None, **kw: Any) -> None:
        self.calls.append(("gauge", stat, value, tags or {}))

    def timing(self, stat: str, dt: float, *, tags: dict[str, Any] | None = None) -> None:
        self.calls.append(("timing", stat, dt, tags or {}))


def test_the_facade_gets_safe_tag_values_and_skips_what_is_not_a_count() -> None:
    backend = RecordingLogger()
    airflow_stats.initialize(factory=lambda: backend, export_legacy_names=False)  # type: ignore[arg-type,return-value]
    stats.api_call("shop a,b=c", "GET /shared/process-status/{id}", "error")
    stats.rate_limit_remaining(CONN_ID, "GET /retailer/orders", None)
    stats.rate_limit_remaining(CONN_ID, "GET /retailer/orders", "soon")
    stats.rate_wait(CONN_ID, "GET /retailer/orders", 0.25)
    stats.rows_landed_from({"conn_id": CONN_ID, "offers_inserted": 2, "offers_deleted": 1, "offers_updated": None})
    assert backend.calls == [
        (
            "incr",
            "bolsync.api.calls",
            1,
            {"conn_id": "shop_a_b_c", "endpoint": "get_shared_process-status_id", "status": "error"},
        ),
        ("timing", "bolsync.rate_budget.wait", 250.0, {"conn_id": CONN_ID, "endpoint": "get_retailer_orders"}),
        ("incr", "bolsync.rows.landed", 2, {"conn_id": CONN_ID, "table": "offers", "operation": "inserted"}),
        ("incr", "bolsync.rows.landed", 1, {"conn_id": CONN_ID, "table": "offers", "operation": "flagged_deleted"}),
    ]


class BrokenLogger(RecordingLogger):
    def incr(self, *args: Any, **kwargs: Any) -> None:
        raise OSError("metrics host unreachable")

    gauge = timing = incr  # type: ignore[assignment]


def _broken_factory() -> Any:
    raise RuntimeError("bad [metrics] configuration")


@pytest.mark.parametrize("factory", [BrokenLogger, _broken_factory], ids=["send-fails", "setup-fails"])
def test_a_failing_metrics_backend_never_breaks_a_sync(
    bol: EmulatorHandle,
    make_hook: Callable[..., BolRetailerHook],
    factory: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(stats, "_failed_once", False)
    airflow_stats.initialize(factory=factory, export_legacy_names=False)
    caplog.set_level(logging.WARNING, logger=stats.__name__)
    hook = _hook(make_hook, bol)
    assert hook.get_orders_page(1)
    assert hook.metrics.api_calls == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == stats.__name__]
    assert len(warnings) == 1
    assert "the sync goes on" in warnings[0]
