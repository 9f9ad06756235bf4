"""The inventory list's stop rules against a fake hook: every page up to bol's empty one, no filter, a page cut
short or repeated is refused, EANs skipped by shifting pages are looked up; a past day is never read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bolsync.inventory.extract import (
    LIST_FILE,
    MAX_LOOKUPS,
    list_calls,
    past_run_message,
    snapshot_day,
    stage_inventory,
)
from bolsync.runs.staging import read_ndjson
from bolsync_provider.errors import BolInconsistentResponse

LABEL = "GET /retailer/inventory"


def stock(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"ean": f"87{n:011d}", "bsku": f"29{n:011d}", "title": f"Mok {n}", "regularStock": n, "gradedStock": n % 3}
        for n in range(start, start + count)
    ]


class FakeHook:
    """bol's inventory list over ``entries`` (50 a page, ``{}`` past the end, ``query``: the EAN or a part of the
    title); ``serve`` may change a page's answer, ``after`` runs after each answer (the list changing)."""

    def __init__(
        self,
        entries: list[dict[str, Any]],
        serve: Callable[[int, list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
        after: Callable[[FakeHook, int], None] | None = None,
    ) -> None:
        self.entries = entries
        self.serve = serve
        self.after = after
        self.calls: list[dict[str, Any]] = []

    def get_list_page(
        self, path: str, *, endpoint: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        assert (path, endpoint, key) == ("/retailer/inventory", LABEL, "inventory")
        params = dict(params or {})
        self.calls.append(params)
        page = params["page"]
        query = params.get("query")
        chosen = [e for e in self.entries if query is None or query == e["ean"] or query in e["title"]]
        answer = chosen[(page - 1) * 50 : page * 50]
        if self.serve and query is None:
            answer = self.serve(page, answer)
        if self.after and query is None:
            self.after(self, page)
        return answer


def staged(folder: Path) -> list[dict[str, Any]]:
    return list(read_ndjson(folder / LIST_FILE))


def test_every_page_is_read_up_to_the_empty_one_and_no_filter_is_passed(tmp_path: Path) -> None:
    hook = FakeHook(stock(107))
    result = stage_inventory(hook, tmp_path, [])  # type: ignore[arg-type]
    assert hook.calls == [{"page": 1}, {"page": 2}, {"page": 3}, {"page": 4}]
    assert staged(tmp_path) == stock(107)
    assert (result.pages, result.entries, result.looked_up) == (3, 107, [])
    assert len(hook.calls) == list_calls(107)


@pytest.mark.parametrize(("eans", "calls"), [(0, 1), (1, 2), (50, 2), (100, 3), (101, 4)])
def test_list_calls(eans: int, calls: int, tmp_path: Path) -> None:
    hook = FakeHook(stock(eans))
    stage_inventory(hook, tmp_path, [])  # type: ignore[arg-type]
    assert len(hook.calls) == list_calls(eans) == calls


def test_a_full_page_repeating_an_earlier_one_is_refused(tmp_path: Path) -> None:
    entries = stock(120)
    hook = FakeHook(entries, serve=lambda page, answer: entries[:50] if page == 2 else answer)
    with pytest.raises(BolInconsistentResponse, match="page 2 lists 50 EANs that pages 1-1 listed already"):
        stage_inventory(hook, tmp_path, [])  # type: ignore[arg-type]


def test_a_page_cut_short_in_the_middle_of_the_list_is_refused(tmp_path: Path) -> None:
    hook = FakeHook(stock(120), serve=lambda page, answer: answer[:30] if page == 1 else answer)
    with pytest.raises(BolInconsistentResponse, match="page 1 listed 30 EANs, fewer than the 50 of a full page"):
        stage_inventory(hook, tmp_path, [])  # type: ignore[arg-type]


def test_a_short_page_of_repeats_at_the_end_is_refused(tmp_path: Path) -> None:
    entries = stock(60)
    hook = FakeHook(entries, serve=lambda page, answer: entries[40:50] if page == 2 else answer)
    with pytest.raises(BolInconsistentResponse, match="page 2 lists 10 EANs that pages 1-1 listed already"):
        stage_inventory(hook, tmp_path, [])  # type: ignore[arg-type]


def test_an_ean_skipped_when_the_pages_shift_is_looked_up_and_staged(tmp_path: Path) -> None:
    entries = stock(60)
    skipped = entries[50]["ean"]

    def sold_out(hook: FakeHook, page: int) -> None:
        if page == 1:  # an EAN of page 1 leaves the list: page 2 starts one entry later
            hook.entries = hook.entries[:10] + hook.entries[11:]

    hook = FakeHook(entries, after=sold_out)
    before = [e["ean"] for e in entries]
    result = stage_inventory(hook, tmp_path, before)  # type: ignore[arg-type]
    assert result.looked_up == [skipped]
    assert result.found == [skipped]
    assert sorted(e["ean"] for e in staged(tmp_path)) == before  # the one that left was read on page 1
    assert {"page": 1, "query": skipped} in hook.calls


def test_only_the_exact_ean_counts_in_a_lookup(tmp_path: Path) -> None:
    entries = stock(3)
    entries[1]["title"] = f"Mok met {entries[0]['ean']} erop"
    hook = FakeHook(entries[1:])
    result = stage_inventory(hook, tmp_path, [entries[0]["ean"]])  # type: ignore[arg-type]
    assert result.looked_up == [entries[0]["ean"]]
    assert result.found == []
    assert staged(tmp_path) == entries[1:]


def test_too_many_missing_eans_are_left_to_the_evidence_rule(tmp_path: Path) -> None:
    hook = FakeHook(stock(5))
    before = [e["ean"] for e in stock(5 + MAX_LOOKUPS + 1)]
    result = stage_inventory(hook, tmp_path, before)  # type: ignore[arg-type]
    assert result.looked_up == []
    assert result.not_looked_up == MAX_LOOKUPS + 1
    assert hook.calls == [{"page": 1}, {"page": 2}]


def test_a_snapshot_is_dated_with_the_dutch_day_it_is_taken_and_an_old_run_reads_nothing() -> None:
    assert snapshot_day(datetime(2026, 11, 20, 22, 59, tzinfo=UTC)) == date(2026, 11, 20)
    assert snapshot_day(datetime(2026, 11, 20, 23, 0, tzinfo=UTC)) == date(2026, 11, 21)  # 00:00 in Amsterdam
    window_end = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # the nightly run of the 20th (01:00 in Amsterdam)
    assert past_run_message(window_end, window_end + timedelta(minutes=1)) is None
    assert past_run_message(window_end, window_end + timedelta(hours=23, minutes=59)) is None  # a late retry
    old = past_run_message(window_end, window_end + timedelta(days=1, minutes=1))
    assert old is not None
    assert "bol keeps no stock history" in old
    assert "cannot take a snapshot of its day and changes nothing" in old
