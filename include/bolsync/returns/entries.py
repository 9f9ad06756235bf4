"""bol's return JSON (``ReducedReturn`` of the list, ``Return`` of the detail): what the stream reads of it before
any check, and the parts that are personal data.

Customer data sits in two places: ``customerDetails`` (detail only: name, address, e-mail, phone, company, VAT
number) and ``returnReason.customerComments`` (list and detail: free text the customer wrote). Both are personal
data: :func:`without_personal_data` removes them before anything is staged for the warehouse, archived for an
account that did not opt in, or held in the quarantine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: Fields of a return item only the detail carries; a list entry never clears them.
DETAIL_FIELDS = ("title", "trackAndTrace", "transporterName")
#: What of an item decides its state (a change here is a change of the return).
_STATE_FIELDS = ("rmaId", "orderId", "ean", "expectedQuantity", "handled")


def return_id(entry: Mapping[str, Any]) -> str:
    """The return's id as text ('' when it has none)."""
    value = entry.get("returnId")
    return "" if value is None or isinstance(value, bool) else str(value)


def registered_at(entry: Mapping[str, Any]) -> datetime | None:
    """``registrationDateTime`` as an aware time, None when missing or unreadable (the checks refuse it later)."""
    value = entry.get("registrationDateTime")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def items_of(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The return's items that are objects (the checks refuse anything else)."""
    items = entry.get("returnItems")
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def is_handled(entry: Mapping[str, Any]) -> bool:
    """Whether every item is handled (what puts a return on bol's handled list)."""
    items = items_of(entry)
    return bool(items) and all(item.get("handled") is True for item in items)


def fingerprint(entry: Mapping[str, Any]) -> str:
    """A digest of the return's state as the list shows it: items, reasons, handled flags and processing results
    (not customer comments, not the fields only the detail has), so a list entry and a detail of the same state
    agree."""
    items = []
    for item in items_of(entry):
        reason = item.get("returnReason")
        reason = reason if isinstance(reason, Mapping) else {}
        results = item.get("processingResults")
        items.append(
            {
                **{name: item.get(name) for name in _STATE_FIELDS},
                "reason": [reason.get("mainReason"), reason.get("detailedReason")],
                "results": sorted(
                    (json.dumps(result, sort_keys=True, default=str) for result in results)
                    if isinstance(results, list)
                    else [json.dumps(results, default=str)]
                ),
            }
        )
    items.sort(key=lambda item: str(item.get("rmaId")))
    state = [return_id(entry), entry.get("registrationDateTime"), entry.get("fulfilmentMethod"), items]
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode("utf-8", "surrogatepass")).hexdigest()


def without_personal_data(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The return without ``customerDetails`` and ``customerComments`` of its items (anything else as bol sent it);
    an item that is no object, or a reason that is no object, is kept as it is for the checks to refuse."""
    kept = dict(entry)
    items = entry.get("returnItems")
    if isinstance(items, list):
        kept["returnItems"] = [_item_without_personal_data(item) for item in items]
    return kept


def _item_without_personal_data(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    kept = {key: value for key, value in item.items() if key != "customerDetails"}
    reason = item.get("returnReason")
    if isinstance(reason, Mapping):
        kept["returnReason"] = {key: value for key, value in reason.items() if key != "customerComments"}
    return kept


def without_personal_page(body: Any) -> Any:
    """A list page (``{"returns": [...]}``) with every return :func:`without_personal_data`."""
    if isinstance(body, Mapping) and isinstance(body.get("returns"), list):
        returns = [without_personal_data(r) if isinstance(r, Mapping) else r for r in body["returns"]]
        return {**body, "returns": returns}
    return body


def without_personal_body(body: Any) -> Any:
    """A detail body without personal data (anything that is no object as it is)."""
    return without_personal_data(body) if isinstance(body, Mapping) else body
