"""``GET /retailer/returns`` and ``GET /retailer/returns/{return-id}``.

The list holds either handled or unhandled returns of one fulfilment method, 50 a page: handled ones newest
registration first, unhandled ones oldest first (the spec's order), so a return handled long after it was
registered turns up deep in the handled list, not at its top. A return is handled once all its items are.
The spec gives ``handled`` and ``fulfilment-method`` no default; the emulator assumes what older spec
versions said (``FBR``) and unhandled returns (never documented either way): pass both. Past the last page
the answer is ``{}``, like bol's order list.
"""

from __future__ import annotations

from datetime import datetime

from bol_emulator import problems, query_params
from bol_emulator.business import BusinessState
from bol_emulator.problems import Response
from bol_emulator.return_payloads import full_return, reduced_return
from bol_emulator.world import World

PAGE_SIZE = 50
METHODS = ("FBR", "FBB")
DEFAULT_METHOD = "FBR"
DEFAULT_HANDLED = False


def list_returns(world: World, client_id: str, params: dict[str, str], instance: str) -> Response:
    """One page of ReducedReturns, ``{}`` past the end, or 400 with violations."""
    bad = query_params.Violations()
    page = query_params.page(params, bad)
    method = query_params.enum(params, "fulfilment-method", METHODS, bad) or DEFAULT_METHOD
    handled = query_params.boolean(params, "handled", bad)
    if bad:
        return problems.bad_request(bad, instance)
    wanted = DEFAULT_HANDLED if handled is None else handled

    def read(state: BusinessState, _: datetime) -> list[dict[str, object]]:
        chosen = [r for r in state.returns.values() if r.fulfilment_method == method and r.handled == wanted]
        chosen.sort(key=lambda r: (r.registered_at, r.return_id), reverse=wanted)
        return [reduced_return(r) for r in chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]

    rows = world.business.read(client_id, read)
    if not rows:
        return problems.empty_page()
    return problems.json_response(200, {"returns": rows})


def get_return(world: World, client_id: str, return_id: str, instance: str) -> Response:
    """One full Return, or a 404 Problem."""

    def read(state: BusinessState, _: datetime) -> dict[str, object] | None:
        value = state.returns.get(return_id)
        return full_return(value) if value else None

    body = world.business.read(client_id, read)
    if body is None:
        return problems.problem(404, f"Return for return id {return_id} not found.", instance)
    return problems.json_response(200, body)
