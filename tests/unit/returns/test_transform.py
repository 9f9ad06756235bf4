"""Returns transform: the checks that decide what the warehouse holds, one row per key at its newest state, stable
processing-result numbers, the state fingerprint and the removal of personal data."""

from __future__ import annotations

import copy
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolsync.archive.writer import without_personal
from bolsync.returns.entries import fingerprint, without_personal_data
from bolsync.returns.spec import DETAIL_ENDPOINT, LIST_ENDPOINT
from bolsync.returns.transform import Observation, ReturnChecks, item_rows, result_rows, return_rows
from bolsync.runs.quarantine import InvalidRecord
from tests.unit.returns.data import COMMENT, CUSTOMER, NOW, entry, item, result


def _check(body: dict[str, Any]) -> None:
    ReturnChecks().check(Observation(body, NOW, False))


def _bad(body: dict[str, Any]) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as refused:
        _check(body)
    return refused.value


def test_valid_returns_pass_the_checks() -> None:
    _check(entry("R1", items=[item("R11", results=[result(1), result(2)], detail=True)]))
    numeric = entry("R2", items=[item("R21")])
    numeric["returnId"], numeric["returnItems"][0]["rmaId"] = 12345678, 31234567  # whole numbers are ids too
    _check(numeric)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda r: r.pop("returnId"), "returnId", "missing"),
        (lambda r: r.update(registrationDateTime="2026-11-27T10:00:00"), "registrationDateTime", "no timezone"),
        (lambda r: r.update(returnItems="R11"), "returnItems", "not an array"),
        (lambda r: r.update(returnItems=["R11"]), "returnItems[0]", "not an object"),
        (lambda r: r["returnItems"][0].update(expectedQuantity=2**31), "returnItems[0].expectedQuantity", "INTEGER"),
        (lambda r: r["returnItems"][0].update(handled="yes"), "returnItems[0].handled", "not true or false"),
        (lambda r: r["returnItems"][0].update(ean="87\x00"), "returnItems[0].ean", "control character"),
        (lambda r: r["returnItems"].append(copy.deepcopy(r["returnItems"][0])), "returnItems[1].rmaId", "twice"),
        (
            lambda r: r["returnItems"][0]["processingResults"].append(
                {**result(), "processingDateTime": "2030-01-01T00:00:00Z"}
            ),
            "returnItems[0].processingResults[0].processingDateTime",
            "later than the extract",
        ),
        (
            lambda r: r["returnItems"][0].update(processingResults={}),
            "returnItems[0].processingResults",
            "not an array",
        ),
        (lambda r: r["returnItems"][0].update(returnReason="kapot"), "returnItems[0].returnReason", "not an object"),
    ],
)
def test_a_value_the_warehouse_cannot_hold_is_refused_naming_the_return_and_field(
    change: Any, field: str, words: str
) -> None:
    body = entry("R1", items=[item("R11")])
    change(body)
    refused = _bad(body)
    assert refused.field == field
    assert words in str(refused)
    assert refused.key == ("R1" if field != "returnId" else None)


def test_the_newest_state_wins_whatever_the_order_of_the_reads() -> None:
    opened = Observation(entry("R1", items=[item("R11")]), NOW, False)
    handled = Observation(entry("R1", items=[item("R11", results=[result(1)])]), NOW - timedelta(minutes=1), False)
    detail = Observation(entry("R1", items=[item("R11", detail=True)]), NOW - timedelta(hours=1), True)
    for reads in ([opened, handled, detail], [detail, handled, opened]):
        items = item_rows("1", reads)
        assert items[["handled", "result_count", "title", "track_and_trace"]].values.tolist() == [
            [True, 1, "Harry Potter", "3SBOLR000000001"]
        ]
        returns = return_rows("1", reads)
        assert returns[["handled", "result_count", "item_count"]].values.tolist() == [[True, 1, 1]]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["RETURN_RECEIVED", "EXCHANGE_PRODUCT"])), max_size=6),
       st.randoms())  # fmt: skip
def test_result_numbers_follow_processing_time_not_bols_order(parts: list[tuple[int, str]], rng: random.Random) -> None:
    results = [result(1, handling, NOW - timedelta(hours=hours)) for hours, handling in parts]
    shuffled = list(results)
    rng.shuffle(shuffled)
    rows = [
        result_rows("1", [Observation(entry("R1", items=[item("R11", quantity=9, results=listed)]), NOW, False)])
        for listed in (results, shuffled)
    ]
    assert rows[0].equals(rows[1])
    times = rows[0]["processed_at"].tolist()
    assert times == sorted(times)
    assert rows[0]["result_number"].tolist() == list(range(1, len(results) + 1))


def test_the_fingerprint_is_the_state_the_lists_show() -> None:
    listed = entry("R1", items=[item("R11", results=[result(1)])])
    detail = entry("R1", items=[item("R11", results=[result(1)], detail=True)])
    assert fingerprint(listed) == fingerprint(detail)
    quiet = copy.deepcopy(listed)
    quiet["returnItems"][0]["returnReason"]["customerComments"] = "anders"
    assert fingerprint(quiet) == fingerprint(listed)
    changed = copy.deepcopy(listed)
    changed["returnItems"][0]["processingResults"][0]["handlingResult"] = "EXCHANGE_PRODUCT"
    assert fingerprint(changed) != fingerprint(listed)


def test_personal_data_is_removed_from_returns_list_pages_and_details() -> None:
    detail = entry("R1", items=[item("R11", detail=True), "not an item"])  # type: ignore[list-item]
    kept = without_personal_data(detail)
    assert "customerDetails" not in kept["returnItems"][0]
    assert kept["returnItems"][0]["returnReason"] == {
        "mainReason": "Verkeerd besteld",
        "detailedReason": "Dubbel besteld",
    }
    assert kept["returnItems"][0]["title"] == "Harry Potter"
    assert kept["returnItems"][1] == "not an item"
    assert detail["returnItems"][0]["customerDetails"] == CUSTOMER  # the input is left as it was
    archived = [
        str(without_personal(DETAIL_ENDPOINT, detail)),
        str(without_personal(LIST_ENDPOINT, {"returns": [detail]})),
    ]
    assert not any(COMMENT in text or CUSTOMER["surname"] in text for text in archived)
