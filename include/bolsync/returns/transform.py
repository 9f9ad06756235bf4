"""Pure transforms from bol's return JSON (without personal data) to warehouse rows, and the checks that decide which
returns the warehouse can hold.

:class:`ReturnChecks` checks one list entry or detail against the warehouse columns (``runs.values``: ids and codes
without control characters, 32-bit quantities, times with a zone and not in the future, items and processing
results that are objects) and raises ``InvalidRecord`` naming the return, the item and the field; the load holds
such a return in the quarantine and lands the rest.

The rows of a load keep one row per key: a return item's newest state, ordered by (handled, number of processing
results, when it was read): bol only ever handles an item and adds processing results, so a read showing less
progress is an older one (a stale page, an older concurrent run); among reads of the same progress the later one
wins. Fields only a detail carries (title, transporter, track and trace) come from the newest detail read.
Processing results are numbered per item by processing time (ties by their values), so the numbers already given
stay when bol adds a result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from bolsync.returns.entries import fingerprint
from bolsync.returns.spec import RETURN_ITEM_STATES, RETURN_PROCESSING_RESULTS, RETURNS
from bolsync.runs import values
from bolsync.runs.record_at import RecordAt

RETURN_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "return_id": "string",
    "registered_at": "datetime64[us, UTC]",
    "fulfilment_method": "string",
    "item_count": "Int64",
    "handled": "boolean",
    "result_count": "Int64",
    "state_fingerprint": "string",
    "observed_at": "datetime64[us, UTC]",
}
ITEM_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "rma_id": "string",
    "return_id": "string",
    "order_id": "string",
    "ean": "string",
    "title": "string",
    "expected_quantity": "Int64",
    "main_reason": "string",
    "detailed_reason": "string",
    "handled": "boolean",
    "result_count": "Int64",
    "processed_quantity": "Int64",
    "track_and_trace": "string",
    "transporter_name": "string",
    "observed_at": "datetime64[us, UTC]",
    "detail_read_at": "datetime64[us, UTC]",
}
RESULT_DTYPES: dict[str, str] = {
    "retailer_id": "string",
    "rma_id": "string",
    "result_number": "Int64",
    "return_id": "string",
    "quantity": "Int64",
    "processing_result": "string",
    "handling_result": "string",
    "processed_at": "datetime64[us, UTC]",
}
#: Item columns only a detail fills (a list read leaves them as they are).
DETAIL_COLUMNS = ("title", "track_and_trace", "transporter_name", "detail_read_at")
#: Free text: control characters removed (tab and newline kept); every other text column is an id or a code.
FREE_TEXT = ("title", "main_reason", "detailed_reason", "transporter_name")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

Check = Callable[[Any], None]


@dataclass(frozen=True)
class Observation:
    """One read of a return (a list entry or a detail, without personal data) and when it arrived."""

    entry: Mapping[str, Any]
    observed_at: datetime
    from_detail: bool


class ReturnChecks:
    """One return (list entry or detail) against what the warehouse holds; :class:`InvalidRecord` names the return,
    the item and the field of the first value it cannot store. No time may be later than the read that brought it
    (``values.latest_allowed`` of its arrival)."""

    def __init__(self) -> None:
        self.not_after: datetime | None = None
        self._return: tuple[tuple[str, Check], ...] = (
            ("registrationDateTime", self._required_time),
            ("fulfilmentMethod", _required_code),
        )
        self._item: tuple[tuple[str, Check], ...] = (
            ("orderId", _required_code),
            ("ean", _required_code),
            ("expectedQuantity", _required_integer),
            ("handled", _required_boolean),
            ("title", values.text),
            ("trackAndTrace", values.code),
            ("transporterName", values.text),
        )
        self._result: tuple[tuple[str, Check], ...] = (
            ("quantity", _required_integer),
            ("processingResult", values.code),
            ("handlingResult", values.code),
            ("processingDateTime", self._required_time),
        )

    def check(self, seen: Observation) -> None:
        """Raise InvalidRecord for the first value of ``seen`` the warehouse cannot hold."""
        self.not_after = values.latest_allowed(seen.observed_at)
        entry = seen.entry
        at = _At(entry.get("returnId"))
        at.check(_required_code, at.key, "returnId")
        at.check_all(self._return, entry)
        rma_ids: set[str] = set()
        for item_at, item in _items(at, entry):
            rma = str(item.get("rmaId"))
            if rma in rma_ids:
                raise item_at.refuse("rmaId", f"{values.shown(rma)} appears twice in the return")
            rma_ids.add(rma)
            item_at.check_all(self._item, item)
            reason = item_at.as_object(item.get("returnReason"), "returnReason")
            item_at.check_all((("mainReason", values.text), ("detailedReason", values.text)), reason, "returnReason.")
            results = item_at.as_array(item.get("processingResults"), "processingResults")
            for number, result in enumerate(results):
                field = f"processingResults[{number}]"
                item_at.check_all(self._result, item_at.as_object(result, field), f"{field}.")

    def _required_time(self, value: Any) -> None:
        values.moment(value, self.not_after, required=True)


def _At(key: Any, item: Any = None, path: str = "") -> RecordAt:
    """Where in a return a value sits (see ``runs.record_at``)."""
    return RecordAt("return", key, item, path, item_label="item (rmaId)")


def _items(top: RecordAt, entry: Mapping[str, Any]) -> Iterator[tuple[RecordAt, Mapping[str, Any]]]:
    items = entry.get("returnItems")
    if items is None:
        raise top.refuse("returnItems", "is missing (every return has a list of items)")
    for number, item in enumerate(top.as_array(items, "returnItems")):
        if not isinstance(item, Mapping):
            raise top.refuse(f"returnItems[{number}]", f"is {values.described(item)}, not an object")
        at = _At(top.key, item.get("rmaId"), f"returnItems[{number}].")
        at.check(_required_code, item.get("rmaId"), "rmaId")
        yield at, item


def _required_code(value: Any) -> None:
    values.code(value, required=True)


def _required_integer(value: Any) -> None:
    values.integer(value, required=True)


def _required_boolean(value: Any) -> None:
    values.boolean(value, required=True)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _clean(value: str | None) -> str | None:
    return None if value is None else _CONTROL_IN_TEXT.sub("", value)


def sorted_results(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """An item's processing results in the order they are numbered: by processing time, then their values."""

    def order(result: Mapping[str, Any]) -> tuple[Any, ...]:
        return (
            pd.Timestamp(str(result.get("processingDateTime"))).tz_convert("UTC"),
            str(result.get("handlingResult")),
            str(result.get("processingResult")),
            int(result.get("quantity") or 0),
        )

    return sorted(results, key=order)


def return_rows(retailer_id: str, observations: Iterable[Observation]) -> pd.DataFrame:
    """One row per return: its newest read (by the items' progress, then the read's time)."""
    rows = []
    for seen in observations:
        entry = seen.entry
        items = list(entry.get("returnItems") or [])
        rows.append(
            {
                "retailer_id": retailer_id,
                "return_id": str(entry["returnId"]),
                "registered_at": entry["registrationDateTime"],
                "fulfilment_method": str(entry["fulfilmentMethod"]),
                "item_count": len(items),
                "handled": bool(items) and all(item.get("handled") is True for item in items),
                "result_count": sum(len(item.get("processingResults") or []) for item in items),
                "state_fingerprint": fingerprint(entry),
                "observed_at": seen.observed_at,
            }
        )
    return _newest(_frame(rows, RETURN_DTYPES), RETURNS.key, ["handled", "result_count"])


def item_rows(retailer_id: str, observations: Iterable[Observation]) -> pd.DataFrame:
    """One row per return item (rmaId): its newest state, with the detail fields of its newest detail read."""
    rows = []
    for seen in observations:
        for item in seen.entry.get("returnItems") or []:
            reason = item.get("returnReason") or {}
            results = item.get("processingResults") or []
            row: dict[str, Any] = {
                "retailer_id": retailer_id,
                "rma_id": str(item["rmaId"]),
                "return_id": str(seen.entry["returnId"]),
                "order_id": str(item["orderId"]),
                "ean": str(item["ean"]),
                "expected_quantity": item["expectedQuantity"],
                "main_reason": _clean(_text(reason.get("mainReason"))),
                "detailed_reason": _clean(_text(reason.get("detailedReason"))),
                "handled": item["handled"],
                "result_count": len(results),
                "processed_quantity": sum(int(result.get("quantity") or 0) for result in results),
                "observed_at": seen.observed_at,
                "title": None,
                "track_and_trace": None,
                "transporter_name": None,
                "detail_read_at": None,
            }
            if seen.from_detail:
                row.update(
                    title=_clean(_text(item.get("title"))),
                    track_and_trace=_text(item.get("trackAndTrace")),
                    transporter_name=_clean(_text(item.get("transporterName"))),
                    detail_read_at=seen.observed_at,
                )
            rows.append(row)
    frame = _frame(rows, ITEM_DTYPES)
    newest = _newest(frame, RETURN_ITEM_STATES.key, ["handled", "result_count"])
    details = frame[frame["detail_read_at"].notna()].sort_values("detail_read_at", kind="stable")
    details = details.drop_duplicates(list(RETURN_ITEM_STATES.key), keep="last").set_index("rma_id")
    if not details.empty:
        filled = newest.set_index("rma_id")
        for column in DETAIL_COLUMNS:
            filled[column] = filled[column].fillna(details[column].reindex(filled.index))
        newest = filled.reset_index()[list(ITEM_DTYPES)]
    return newest


def result_rows(retailer_id: str, observations: Iterable[Observation]) -> pd.DataFrame:
    """The processing results of each item's newest state (see :func:`item_rows`), numbered from 1."""
    newest: dict[str, tuple[tuple[bool, int, datetime], str, list[Mapping[str, Any]]]] = {}
    for seen in observations:
        for item in seen.entry.get("returnItems") or []:
            results = list(item.get("processingResults") or [])
            version = (bool(item["handled"]), len(results), seen.observed_at)
            rma = str(item["rmaId"])
            if rma not in newest or version >= newest[rma][0]:
                newest[rma] = (version, str(seen.entry["returnId"]), results)
    rows = []
    for rma, (_, return_id, results) in newest.items():
        for number, result in enumerate(sorted_results(results), start=1):
            rows.append(
                {
                    "retailer_id": retailer_id,
                    "rma_id": rma,
                    "result_number": number,
                    "return_id": return_id,
                    "quantity": result["quantity"],
                    "processing_result": _text(result.get("processingResult")),
                    "handling_result": _text(result.get("handlingResult")),
                    "processed_at": result["processingDateTime"],
                }
            )
    return _frame(rows, RESULT_DTYPES).drop_duplicates(list(RETURN_PROCESSING_RESULTS.key), keep="last")


def _frame(rows: list[dict[str, Any]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(dtypes))
    for column, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def _newest(frame: pd.DataFrame, key: Sequence[str], progress: Sequence[str]) -> pd.DataFrame:
    """One row per ``key``: the greatest (``progress``..., ``observed_at``); a tie goes to the later read."""
    if frame.empty:
        return frame.reset_index(drop=True)
    ordered = frame.sort_values([*progress, "observed_at"], kind="stable")
    return ordered.drop_duplicates(list(key), keep="last").reset_index(drop=True)
