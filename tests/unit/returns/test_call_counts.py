"""The returns benchmark's counts (``tests.benchmarks.streams.returns``) on a hand-made truth."""

from __future__ import annotations

from datetime import timedelta

from bolsync.returns.spec import DETAIL_ENDPOINT, LIST_ENDPOINT
from tests.benchmarks.streams.returns import Truth, fewest_calls, naive_calls
from tests.unit.returns.data import NOW


def _truth(handled: dict[str, bool], results: dict[str, str] | None = None) -> Truth:
    returns = tuple(
        {
            "return_id": key,
            "registered_at": (NOW - timedelta(hours=int(key[1:]))).isoformat(),
            "fulfilment_method": "FBR",
            "handled": done,
        }
        for key, done in handled.items()
    )
    rows = tuple(
        {"return_id": key, "rma_id": key, "quantity": 1, "processing_result": "ACCEPTED", "handling_result": how,
         "processed_at": NOW.isoformat()}
        for key, how in (results or {}).items()
    )  # fmt: skip
    return Truth(returns, rows)


def test_the_fewest_calls_read_each_page_holding_a_change_once_and_details_only_for_new_returns() -> None:
    before = _truth({f"R{n}": True for n in range(1, 121)} | {"R200": False})
    changes = {f"R{n}": True for n in range(1, 121)} | {"R200": True, "R0": False}
    after = _truth(changes, {"R200": "RETURN_RECEIVED", "R2": "EXCHANGE_PRODUCT", "R3": "EXCHANGE_PRODUCT"})
    # Handled, newest first: R1..R120 on pages 1-3, R200 (registered earliest) on page 3; R2 and R3 on page 1.
    assert fewest_calls(before, after, detailed=["R0"]) == {LIST_ENDPOINT: 2, DETAIL_ENDPOINT: 1}
    assert fewest_calls(after, after) == {LIST_ENDPOINT: 0, DETAIL_ENDPOINT: 0}
    assert naive_calls(after) == {LIST_ENDPOINT: 1 + 3 + 1 + 1, DETAIL_ENDPOINT: 122}
