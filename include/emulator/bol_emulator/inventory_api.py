"""``GET /retailer/inventory``: the FBB stock per EAN (ordered by EAN, 50 a page, ``{}`` past the end).

Filters: ``quantity`` ranges (``0-10,20-30``, repeated or comma-separated) on ``regularStock``, or on
``gradedStock`` with ``state=GRADED``; ``state`` REGULAR/GRADED keeps EANs with units of that kind;
``stock`` SUFFICIENT/INSUFFICIENT splits at :data:`~bol_emulator.inventory.SUFFICIENT_FROM` regular units
(the emulator's rule); ``query`` matches the EAN exactly or a part of the title (any case). The fault
``short_inventory`` shows only the first EANs (``business_faults``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bol_emulator import problems, query_params
from bol_emulator.business import BusinessState
from bol_emulator.business_faults import BusinessFaults
from bol_emulator.inventory import StockItem
from bol_emulator.problems import Response
from bol_emulator.world import World

PAGE_SIZE = 50
RANGE_RE = re.compile(r"([0-9]{1,9})-([0-9]{1,9})")


def inventory(item: StockItem) -> dict[str, Any]:
    """An Inventory entry."""
    return {
        "ean": item.ean,
        "bsku": item.bsku,
        "gradedStock": item.graded,
        "regularStock": item.regular,
        "title": item.title,
    }


def truth_row(retailer_id: str, item: StockItem) -> dict[str, Any]:
    """One ``inventory`` truth row (``as_of``: the Amsterdam day the stock holds for)."""
    return {
        "retailer_id": retailer_id,
        "ean": item.ean,
        "bsku": item.bsku,
        "title": item.title,
        "regular_stock": item.regular,
        "graded_stock": item.graded,
        "as_of": item.day.isoformat(),
    }


def ranges(multi: dict[str, list[str]], bad: query_params.Violations) -> list[tuple[int, int]] | None:
    if "quantity" not in multi:
        return None
    found = []
    for raw in (part for value in multi["quantity"] for part in value.split(",")):
        match = RANGE_RE.fullmatch(raw.strip())
        if not match or int(match.group(1)) > int(match.group(2)):
            bad.invalid("quantity", raw, "expected ranges such as 0-10,20-30 (minimum-maximum)")
            continue
        found.append((int(match.group(1)), int(match.group(2))))
    return found


def list_inventory(
    world: World,
    client_id: str,
    params: dict[str, str],
    multi: dict[str, list[str]],
    instance: str,
    faults: BusinessFaults | None = None,
) -> Response:
    """One page of Inventory entries, ``{}`` past the end, or 400 with violations."""
    bad = query_params.Violations()
    page = query_params.page(params, bad)
    stock = query_params.enum(params, "stock", ("SUFFICIENT", "INSUFFICIENT"), bad)
    state_filter = query_params.enum(params, "state", ("REGULAR", "GRADED"), bad)
    wanted = ranges(multi, bad)
    query = params.get("query")
    if bad:
        return problems.bad_request(bad, instance)

    def keep(item: StockItem) -> bool:
        if stock is not None and item.sufficient != (stock == "SUFFICIENT"):
            return False
        if state_filter is not None and not (item.graded if state_filter == "GRADED" else item.regular):
            return False
        units = item.graded if state_filter == "GRADED" else item.regular
        if wanted is not None and not any(low <= units <= high for low, high in wanted):
            return False
        return not query or query == item.ean or query.casefold() in item.title.casefold()

    shown = faults.inventory_kept(client_id) if faults else None

    def read(state: BusinessState, _: datetime) -> list[dict[str, Any]]:
        stock = list(state.stock.values())[:shown] if shown is not None else state.stock.values()
        chosen = [item for item in stock if keep(item)]
        return [inventory(item) for item in chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]

    rows = world.business.read(client_id, read)
    if not rows:
        return problems.empty_page()
    return problems.json_response(200, {"inventory": rows})
