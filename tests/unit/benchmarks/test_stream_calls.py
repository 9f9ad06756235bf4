"""The all-streams call benchmark's pure parts: every stream of the registry has its module, endpoints are counted
for the stream whose budget label they fall under, and the orders' fewest pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bolsync.streams.registry import STREAMS
from tests.benchmarks.stream_calls import owner, stream_requests
from tests.benchmarks.stream_runs import module_of
from tests.benchmarks.stream_runs.orders import pages


@pytest.mark.parametrize("name", list(STREAMS))
def test_every_stream_has_a_benchmark_module_naming_one_of_its_dags(name: str) -> None:
    module = module_of(name)
    assert module.DAG in STREAMS[name].dags
    for phase in (1, 2):
        logical, conf = module.run(phase, datetime(2026, 12, 8, 9, 30, tzinfo=UTC))
        assert logical.tzinfo is not None
        assert "accounts" not in conf


def test_a_stream_without_a_module_is_named() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"add tests/benchmarks/stream_runs/nothing\.py"):
        module_of("nothing")


def test_endpoints_count_for_the_stream_of_their_budget_label() -> None:
    labels = {endpoint.label: spec.name for spec in STREAMS.values() for endpoint in spec.endpoints}
    assert owner("GET /retailer/orders/{order-id}", labels) == "orders"
    assert owner("GET /retailer/invoices/{invoice-id}/specification", labels) == "invoices"
    assert owner("GET /shared/process-status/{process-status-id}", labels) == "offers"
    assert owner("GET /retailer/offers/export/{report-id}", labels) == "offers"
    assert owner("POST /token", labels) is None
    stats = {
        "requests": {
            "GET /retailer/invoices": {"200": 2},
            "GET /retailer/invoices/{invoice-id}": {"200": 1, "429": 1},
            "GET /retailer/invoices/{invoice-id}/specification": {"200": 3, "404": 1},
            "GET /retailer/returns": {"200": 7},
        }
    }
    assert stream_requests(stats, "invoices") == (7, 1)
    assert stream_requests(stats, "returns") == (7, 0)


@pytest.mark.parametrize(("count", "expected"), [(0, 1), (1, 1), (49, 1), (50, 2), (51, 2), (100, 3), (101, 3)])
def test_the_fewest_pages_of_a_list(count: int, expected: int) -> None:
    assert pages(count) == expected


def test_shipments_fewest_reads_down_to_the_oldest_shipment_landed() -> None:
    from tests.benchmarks.stream_runs import shipments

    def row(n: int, method: str) -> dict[str, str]:
        shipped = datetime(2026, 12, 1, n // 60, n % 60, tzinfo=UTC)
        return {"shipment_id": f"{method}{n:03d}", "fulfilment_method": method, "shipped_at": shipped.isoformat()}

    truth = [row(n, "FBR") for n in range(120)] + [row(n, "FBB") for n in range(10)]
    # FBR newest first: FBR119 .. FBR000; the run landed the 60 newest FBR shipments and no FBB one.
    landed = {f"FBR{n:03d}" for n in range(60, 120)}
    got = shipments.figures(None, 1, datetime.now(UTC), {"held": set()}, {"held": landed, "truth": truth})  # type: ignore[arg-type]
    assert got.fewest == 2 + 1 + 60  # FBR pages 1-2, FBB's first page, a detail each
    assert got.naive == 3 + 1 + 130  # every page of both lists to their end, every detail
