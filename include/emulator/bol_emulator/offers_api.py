"""v11 ``GET /retailer/offers`` (filters, cursor pages) and ``GET /retailer/offers/{offer-id}`` (v11 or v10)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bol_emulator import problems
from bol_emulator.offer_faults import OfferFaults, replace_v11_values
from bol_emulator.offer_payloads import v10_offer, v11_offer, zulu_ms
from bol_emulator.offers import Offer
from bol_emulator.problems import V10_JSON, V11_JSON, V11_JSON_UTF8, Response
from bol_emulator.world import World

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass
class OfferQuery:
    """The validated parameters of a list request; ``after`` is the cursor's (created, seq) position."""

    offer_ids: set[str] | None = None
    eans: set[str] | None = None
    reference: str | None = None
    for_sale: bool | None = None
    modified_since: datetime | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    after: tuple[datetime, int] | None = None

    def matches(self, offer: Offer) -> bool:
        if self.after is not None and (offer.created_at, offer.seq) <= self.after:
            return False
        if self.offer_ids is not None and offer.offer_id not in self.offer_ids:
            return False
        if self.eans is not None and offer.ean not in self.eans:
            return False
        if self.reference is not None and offer.reference != self.reference:
            return False
        if self.for_sale is not None and offer.for_sale != self.for_sale:
            return False
        return self.modified_since is None or offer.last_modified_at >= self.modified_since


def encode_cursor(offer: Offer) -> str:
    """Base64 of ``{"id": <creation sequence>, "created": <creation time>}`` like the spec's example."""
    raw = json.dumps({"id": offer.seq, "created": zulu_ms(offer.created_at)}, separators=(",", ":"))
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position of a cursor; ValueError if it is not one of ours."""
    try:
        raw = json.loads(base64.b64decode(cursor, validate=True))
        created = datetime.fromisoformat(raw["created"].replace("Z", "+00:00"))
        return created, int(raw["id"])
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(cursor) from exc


def _timestamp(raw: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _values(multi: dict[str, list[str]], name: str) -> list[str] | None:
    """Repeated and comma-separated values of a list parameter (``eans=1&eans=2`` or ``eans=1,2``)."""
    if name not in multi:
        return None
    return [value for raw in multi[name] for value in raw.split(",") if value]


def parse_query(params: dict[str, str], multi: dict[str, list[str]]) -> tuple[OfferQuery, list[dict[str, str]]]:
    """The query of a list request plus any violations."""
    bad: list[dict[str, str]] = []
    query = OfferQuery()

    def violation(name: str, reason: str) -> None:
        bad.append({"name": name, "reason": f"Request contains invalid value(s): '{params.get(name)}', {reason}"})

    ids = _values(multi, "offer-ids")
    if ids is not None:
        try:
            query.offer_ids = {str(uuid.UUID(value)) for value in ids}
        except ValueError:
            violation("offer-ids", "must be UUIDs.")
    eans = _values(multi, "eans")
    query.eans = set(eans) if eans is not None else None
    query.reference = params.get("reference")
    if "for-sale" in params:
        if params["for-sale"].lower() not in ("true", "false"):
            violation("for-sale", "must be a boolean.")
        query.for_sale = params["for-sale"].lower() == "true"
    if "last-modified-date-time" in params:
        try:
            query.modified_since = _timestamp(params["last-modified-date-time"])
        except ValueError:
            violation("last-modified-date-time", "expected an ISO 8601 date-time such as 2018-11-14T08:34:41Z.")
    if "page-size" in params:
        raw = params["page-size"]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            violation("page-size", f"must be an integer between 1 and {MAX_PAGE_SIZE}.")
        else:
            query.page_size = int(raw)
    if params.get("cursor"):
        try:
            query.after = decode_cursor(params["cursor"])
        except ValueError:
            violation("cursor", "not a valid cursor.")
    return query, bad


def list_offers(
    world: World,
    client_id: str,
    params: dict[str, str],
    multi: dict[str, list[str]],
    instance: str,
    faults: OfferFaults | None = None,
) -> Response:
    """One page in creation order; ``nextCursor`` is set when the page is full (the next may be empty).
    Faults: ``v11_empty_pages`` answers an empty page, ``short_list`` cuts a page of a full list (no
    ``last-modified-date-time``) to its first offers and drops its ``nextCursor``, ``offer_value`` replaces
    values."""
    query, violations = parse_query(params, multi)
    if violations:
        return problems.bad_request(violations, instance, V11_JSON)
    empty = faults.take_empty_page(client_id, params.get("cursor")) if faults else None
    if empty is not None:
        page_body = {"pageSize": query.page_size, "nextCursor": empty["next_cursor"]}
        return problems.json_response(200, {"offers": [], "page": page_body}, V11_JSON_UTF8)
    overrides = faults.overrides(client_id) if faults else []
    keep = faults.take_short_list(client_id) if faults and query.modified_since is None else None

    def page(offers: list[Offer]) -> tuple[list[dict[str, Any]], str | None]:
        chosen = [offer for offer in offers if query.matches(offer)][: query.page_size]
        cursor = encode_cursor(chosen[-1]) if len(chosen) == query.page_size else None
        if keep is not None:
            chosen, cursor = chosen[:keep], None
        bodies = [v11_offer(offer) for offer in chosen]
        replace_v11_values(bodies, offers[0].offer_id if offers else None, overrides)
        return bodies, cursor

    offers, cursor = world.with_offers(client_id, page)
    body = {"offers": offers, "page": {"pageSize": query.page_size, "nextCursor": cursor}}
    return problems.json_response(200, body, V11_JSON_UTF8)


def get_offer(world: World, client_id: str, offer_id: str, media: str, instance: str) -> Response:
    """One offer as v11 OfferResponse or, with the v10 media type, as v10 RetailerOffer; else 400/404."""
    try:
        wanted = str(uuid.UUID(offer_id))
    except ValueError:
        reason = f"Request contains invalid value(s): '{offer_id}', must be a UUID."
        return problems.bad_request([{"name": "offer-id", "reason": reason}], instance, media)
    shape = v10_offer if media == V10_JSON else v11_offer

    def find(offers: list[Offer]) -> dict[str, Any] | None:
        return next((shape(offer) for offer in offers if offer.offer_id == wanted), None)

    body = world.with_offers(client_id, find)
    if body is None:
        return problems.problem(404, f"Offer with offer id {offer_id} not found.", instance, content_type=media)
    return problems.json_response(200, body, f"{media};charset=UTF-8")
