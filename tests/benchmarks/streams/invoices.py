"""The invoices stream's call counts for ``make bench``: the fewest calls that can land a run's data, and what a
naive full re-read of the same days costs (per endpoint label, as the rate budget counts them).

How the fewest is counted, from the emulator's truth (``/_emulator/accounts/{client}/invoices``, whose rows
carry ``invoice_id``, ``issue_date`` and ``line_count``):

* the list: one request per period of at most 31 days (bol refuses longer ones), even for days without an
  invoice: only a listing tells that there is none;
* an invoice the warehouse already holds complete: nothing (an issued invoice does not change);
* an invoice whose list entry offers no JSON specification: nothing (a request could only answer 404 or 406);
* any other invoice: its detail (the totals per VAT rate, without which its lines cannot be checked) and its
  specification pages, ``line_count // page_size + 1`` of them: pages up to the first that is not full, which
  is the empty ``{}`` when the lines fill whole pages (an invoice without lines: one empty page).

The product makes exactly these calls for invoices that add up; one whose lines do not add up costs its pages
once more up to an empty page (the check that bol's pages are not smaller than documented), and every later run
that lists it reads it again until it lands. Its first list request of a run also names the week before the
run's days where it has room: no extra request, and what it finds there is part of the run's data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Any

from bolsync.invoices.periods import list_periods
from bolsync.invoices.spec import DOCUMENT_ENDPOINT, LIST_ENDPOINT, SPECIFICATION_PAGE_SIZE


def _listed(invoices: Iterable[Mapping[str, Any]], first: date, last: date) -> list[Mapping[str, Any]]:
    start = min(start for start, _ in list_periods(first, last))
    return [i for i in invoices if start <= date.fromisoformat(str(i["issue_date"])) <= last]


def fewest_calls(
    invoices: Iterable[Mapping[str, Any]],
    first: date,
    last: date,
    *,
    known: Collection[str] = (),
    without_json: Collection[str] = (),
    page_size: int = SPECIFICATION_PAGE_SIZE,
) -> dict[str, int]:
    """The fewest calls that land the invoices issued ``first`` .. ``last`` (and in the days the first list request
    also names), given the ones the warehouse holds complete (``known``) and the ones whose list entry offers no
    JSON specification (``without_json``); see the module docstring."""
    documents = 0
    for invoice in _listed(invoices, first, last):
        if invoice["invoice_id"] in known or invoice["invoice_id"] in without_json:
            continue
        documents += 1 + int(invoice["line_count"]) // page_size + 1
    return {LIST_ENDPOINT: len(list_periods(first, last)), DOCUMENT_ENDPOINT: documents}


def naive_calls(
    invoices: Iterable[Mapping[str, Any]], first: date, last: date, *, page_size: int = SPECIFICATION_PAGE_SIZE
) -> dict[str, int]:
    """A naive full re-read of the same days: the same list requests, then every listed invoice's detail and its
    specification page by page until an empty page, whatever the warehouse holds."""
    documents = sum(1 + math.ceil(int(i["line_count"]) / page_size) + 1 for i in _listed(invoices, first, last))
    return {LIST_ENDPOINT: len(list_periods(first, last)), DOCUMENT_ENDPOINT: documents}
