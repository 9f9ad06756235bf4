"""The extract against a fake hook: periods of at most 31 days, known invoices never read again, a specification
read page by page to its end (and past a short page when its lines do not add up), no call where the list says
there is no JSON specification, 404 and 406 recorded, loops and other invoices' answers refused."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bolsync.invoices import extract as extract_module
from bolsync.invoices.extract import DOCUMENTS_FILE, LIST_FILE, extract_invoices, needs_read
from bolsync.invoices.periods import list_periods
from bolsync.runs.staging import NdjsonWriter, read_ndjson
from bolsync_provider.errors import BolClientError, BolInconsistentResponse, BolNotFound, BolResponseError
from tests.unit.invoices import bol_shapes as bol

NOW = datetime(2026, 3, 9, 8, tzinfo=UTC)


class FakeHook:
    """Answers like bol from a dict of invoices (id -> (entry, detail, lines)), counting every call."""

    bol_conn_id = "bol_shop"

    def __init__(self, invoices: Mapping[str, tuple[dict, dict, list]], page_size: int = 25_000) -> None:
        self.invoices = dict(invoices)
        self.page_size = page_size
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.specification_errors: dict[str, Exception] = {}
        self.repeat_from: int | None = None

    def get_object(self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((path, dict(params or {})))
        if path == "/retailer/invoices":
            start, end = (date.fromisoformat(params[k]) for k in ("period-start-date", "period-end-date"))  # type: ignore[index]
            assert (end - start).days + 1 <= 31, "bol answers 400 to a period of more than 31 days"
            listed = [entry for entry, _, _ in self.invoices.values() if start <= _issued(entry) <= end]
            return {"invoiceListItems": listed, "period": f"{start}/{end}"} if listed else {}
        invoice_id = path.rsplit("/", 1)[1]
        return self.invoices[invoice_id][1]

    def get_list_page(
        self, path: str, *, endpoint: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append((path, dict(params or {})))
        invoice_id = path.split("/")[3]
        if invoice_id in self.specification_errors:
            raise self.specification_errors[invoice_id]
        page = int((params or {})["page"])
        if self.repeat_from is not None and page >= self.repeat_from:
            page = self.repeat_from - 1
        lines = self.invoices[invoice_id][2]
        return lines[(page - 1) * self.page_size : page * self.page_size]

    def count(self, what: str) -> int:
        return sum(1 for path, _ in self.calls if path.endswith(what))


def _issued(entry: dict[str, Any]) -> date:
    return datetime.fromtimestamp(entry["issueDate"] / 1000, UTC).date() if entry["issueDate"] else date.min


def invoice(invoice_id: str = bol.INVOICE_ID, **entry_changes: Any) -> dict[str, tuple[dict, dict, list]]:
    lines = [bol.line(n, invoiceLineRef=f"{invoice_id}-{n}") for n in range(1, 7)]
    return {invoice_id: (bol.list_entry(invoiceId=invoice_id, **entry_changes), bol.detail(ID=invoice_id), lines)}


def run(hook: FakeHook, tmp_path: Path, states: Mapping[str, str] | None = None, **options: Any) -> Any:
    periods = options.pop("periods", list_periods(date(2026, 3, 2), date(2026, 3, 8)))
    folder = tmp_path / "attempt"
    folder.mkdir(exist_ok=True)
    result = extract_invoices(hook, periods, folder, lambda ids: dict(states or {}), clock=lambda: NOW, **options)
    return result, list(read_ndjson(folder / DOCUMENTS_FILE))


def test_a_new_invoice_is_read_specification_first_then_its_detail(tmp_path: Path) -> None:
    hook = FakeHook(invoice())
    result, documents = run(hook, tmp_path)
    assert [path for path, _ in hook.calls] == [
        "/retailer/invoices",
        f"/retailer/invoices/{bol.INVOICE_ID}/specification",
        f"/retailer/invoices/{bol.INVOICE_ID}",
    ]
    assert hook.calls[0][1] == {"period-start-date": "2026-02-23", "period-end-date": "2026-03-08"}
    assert (result.listed, result.read, result.details_fetched, result.specification_pages) == (1, 1, 1, 1)
    assert documents[0]["specification"] == "read"
    assert len(documents[0]["lines"]) == 6
    assert documents[0]["read_at"] == NOW.isoformat()
    assert next(iter(read_ndjson(tmp_path / "attempt" / LIST_FILE)))["period_start"] == "2026-02-23"


def test_every_period_is_at_most_31_days_and_an_empty_one_is_named(tmp_path: Path) -> None:
    hook = FakeHook(invoice())
    periods = list_periods(date(2026, 1, 1), date(2026, 3, 31))
    result, _ = run(hook, tmp_path, periods=periods)
    assert [params for path, params in hook.calls if path == "/retailer/invoices"] == [
        {"period-start-date": "2026-01-01", "period-end-date": "2026-01-31"},
        {"period-start-date": "2026-02-01", "period-end-date": "2026-03-03"},
        {"period-start-date": "2026-03-04", "period-end-date": "2026-03-31"},
    ]
    assert result.empty_periods == ["2026-01-01..2026-01-31", "2026-03-04..2026-03-31"]


@pytest.mark.parametrize(
    ("stored", "json_offered", "read"),
    [
        (None, True, True),
        ("held", True, True),
        ("reconciled", True, False),
        ("unbalanced", True, False),
        ("xlsx_only", None, False),
        ("xlsx_only", False, False),
        ("missing", True, True),
    ],
)
def test_what_is_read_again(stored: str | None, json_offered: bool | None, read: bool) -> None:
    from bolsync.invoices import documents

    entry = documents.listed(bol.list_entry(), date(2027, 1, 1))
    assert needs_read(documents.Listed(**{**entry.__dict__, "json_offered": json_offered}), stored) is read


def test_known_invoices_cost_nothing_but_their_place_in_the_list(tmp_path: Path) -> None:
    hook = FakeHook({**invoice("1"), **invoice("2"), **invoice("3")})
    result, documents = run(hook, tmp_path, {"1": "reconciled", "2": "held", "3": "missing"})
    assert (result.known, result.read) == (1, 2)
    assert sorted(d["invoiceId"] for d in documents) == ["2", "3"]
    assert hook.count("/1") == hook.count("/1/specification") == 0


def test_no_call_where_the_list_offers_no_json_specification(tmp_path: Path) -> None:
    hook = FakeHook(
        {
            **invoice("1", specificationMediaTypes={"availableMediaTypes": [bol.XLSX]}),
            **invoice("2", specificationMediaTypes={"availableMediaTypes": []}),
        }
    )
    result, documents = run(hook, tmp_path)
    assert [(d["invoiceId"], d["specification"], d["lines"], d["detail"]) for d in documents] == [
        ("1", "xlsx_only", None, None),
        ("2", "missing", None, None),
    ]
    assert len(hook.calls) == 1
    assert result.without_specification == ["1 (xlsx_only)", "2 (missing)"]


def test_a_specification_bol_does_not_have_or_has_only_as_xlsx_ends_the_reads(tmp_path: Path) -> None:
    hook = FakeHook({**invoice("1"), **invoice("2"), **invoice("3")})
    hook.specification_errors = {
        "1": BolNotFound("404", status=404),
        "2": BolClientError("406 Not Acceptable", status=406),
    }
    _, documents = run(hook, tmp_path)
    assert [(d["invoiceId"], d["specification"]) for d in documents] == [
        ("1", "missing"),
        ("2", "xlsx_only"),
        ("3", "read"),
    ]
    assert hook.count("/1") == hook.count("/2") == 0  # no detail of them
    hook.specification_errors = {"1": BolClientError("400 Bad Request", status=400)}
    with pytest.raises(BolClientError):
        run(hook, tmp_path)


def test_a_full_page_is_followed_by_the_next_and_a_short_page_ends_the_specification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract_module, "SPECIFICATION_PAGE_SIZE", 3)
    hook = FakeHook(invoice(), page_size=3)
    result, documents = run(hook, tmp_path)
    assert [params["page"] for path, params in hook.calls if path.endswith("specification")] == [1, 2, 3]
    assert len(documents[0]["lines"]) == 6
    assert result.specification_pages == 3


def test_a_short_page_whose_lines_do_not_add_up_is_followed_to_an_empty_page(tmp_path: Path) -> None:
    hook = FakeHook(invoice(), page_size=4)  # bol's pages smaller than documented
    result, documents = run(hook, tmp_path)
    assert [params["page"] for path, params in hook.calls if path.endswith("specification")] == [1, 2, 3]
    assert len(documents[0]["lines"]) == 6
    assert result.specification_pages == 3


def test_a_specification_repeating_its_pages_is_inconsistent(tmp_path: Path) -> None:
    hook = FakeHook(invoice(), page_size=4)
    hook.repeat_from = 2
    with pytest.raises(BolInconsistentResponse, match="page 2 repeats page 1"):
        run(hook, tmp_path)


def test_a_specification_that_never_ends_is_inconsistent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_module, "MAX_SPECIFICATION_PAGES", 3)
    monkeypatch.setattr(extract_module, "SPECIFICATION_PAGE_SIZE", 1)
    lines = [bol.line(1, invoiceLineRef=str(n)) for n in range(10)]
    hook = FakeHook({bol.INVOICE_ID: (bol.list_entry(), bol.detail(), lines)}, page_size=1)
    with pytest.raises(BolInconsistentResponse, match="not at its end after 3 pages"):
        run(hook, tmp_path)


def test_the_detail_of_another_invoice_is_inconsistent(tmp_path: Path) -> None:
    invoices = invoice()
    invoices[bol.INVOICE_ID][1]["ID"] = "4599999999"
    with pytest.raises(BolInconsistentResponse, match="answered the detail of invoice '4599999999'"):
        run(FakeHook(invoices), tmp_path)


@pytest.mark.parametrize(
    ("body", "empty"),
    [({}, True), ({"period": "2026-02-23/2026-03-08"}, True), ({"invoiceListItems": []}, True)],
)
def test_an_answer_without_invoices_is_an_empty_period(body: dict, empty: bool) -> None:
    assert extract_module.list_entries(body, {}) == []


@pytest.mark.parametrize("body", [{"invoices": []}, {"invoiceListItems": {"invoiceId": "1"}}])
def test_a_list_answer_that_cannot_be_read_is_never_an_empty_period(body: dict) -> None:
    with pytest.raises(BolResponseError):
        extract_module.list_entries(body, {"period-start-date": "2026-03-01"})


def test_an_entry_without_a_usable_id_is_not_read_and_counted(tmp_path: Path) -> None:
    hook = FakeHook({**invoice(), "bad": (bol.list_entry(invoiceId=None), {}, [])})
    result, documents = run(hook, tmp_path)
    assert (result.listed, result.unreadable, len(documents)) == (2, 1, 1)


def test_invoices_an_earlier_attempt_read_are_not_read_again(tmp_path: Path) -> None:
    earlier = tmp_path / "try-1"
    earlier.mkdir()
    with NdjsonWriter(earlier / DOCUMENTS_FILE, append=False) as staged:
        staged.write(bol.document())
    hook = FakeHook(invoice())
    result, documents = run(hook, tmp_path, earlier=[earlier])
    assert (result.reused, result.read, len(hook.calls)) == (1, 0, 1)
    assert documents == [bol.document()]
