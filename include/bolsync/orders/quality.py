"""Data-quality checks run after each orders load (the style of ``runs.quality``); a failed check fails the
load task with a clear message.

Checks (``retailer`` = the account just loaded):

- ``orders_key`` / ``order_items_key``: the declared keys of bol.orders and bol.order_items (``transform``) are
  unique and not null for the retailer.
- ``orders_loaded`` / ``order_items_loaded``: every distinct key staged by the extract (order ids of the
  staged full orders; order item ids of the staged list and full orders) is in the warehouse afterwards,
  and the upsert did not report more rows than distinct keys.
- ``items_without_order``: no item of an order touched by this load lacks its bol.orders row. An order
  whose detail call answered 404 (``details_not_found`` of the extract) has no order row by design: its
  items keep the list's data. Those orders are excused here but always reported (:func:`details_not_found_note`
  goes into the audit row and the task log); they are fetched again by the next run that lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bolsync.orders.spec import ORDER_ITEMS, ORDERS
from bolsync.runs.quality import MAX_KEYS_SHOWN, CheckFailure, check_key, chunks, enforce, present, rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagedKeys:
    """The distinct keys an extract staged: what the load must have put into the warehouse."""

    order_ids: frozenset[str]  # staged full orders: the rows of bol.orders
    item_ids: frozenset[str]  # items of the staged list and full orders: the rows of bol.order_items
    item_order_ids: frozenset[str]  # the orders those items belong to


def staged_keys(
    listed: Iterable[Mapping[str, Any]],
    details: Iterable[Mapping[str, Any]],
    held: Collection[str] = (),
    details_held: Collection[str] = (),
) -> StagedKeys:
    """Distinct keys of the staged list entries and full orders (as the extract wrote them), less what the load
    held in the quarantine: the list entries of the ``held`` orders, the full orders of ``details_held``."""
    order_ids: set[str] = set()
    item_ids: set[str] = set()
    item_order_ids: set[str] = set()
    for source, is_detail in ((details, True), (listed, False)):
        for order in source:
            order_id = str(order.get("orderId"))
            if order_id in (details_held if is_detail else held):
                continue
            if is_detail:
                order_ids.add(order_id)
            for item in order.get("orderItems") or []:
                item_ids.add(str(item.get("orderItemId")))
                item_order_ids.add(order_id)
    return StagedKeys(frozenset(order_ids), frozenset(item_ids), frozenset(item_order_ids))


def check_keys(conn: Any, retailer_id: str) -> list[CheckFailure]:
    """``orders_key`` / ``order_items_key``: keys unique and not null for the retailer."""
    return check_key(conn, "orders_key", ORDERS, retailer_id) + check_key(
        conn, "order_items_key", ORDER_ITEMS, retailer_id, also_not_null=["order_id"]
    )


def check_loaded(
    conn: Any,
    retailer_id: str,
    staged: StagedKeys,
    orders_upserted: int | None = None,
    items_inserted: int | None = None,
) -> list[CheckFailure]:
    """``orders_loaded`` / ``order_items_loaded``: every staged key is in the warehouse; the upsert counts
    (inserted + updated orders, inserted items) are not above the distinct keys staged."""
    failures = []
    for check, table, column, keys, upserted in (
        ("orders_loaded", ORDERS.name, "order_id", staged.order_ids, orders_upserted),
        ("order_items_loaded", ORDER_ITEMS.name, "order_item_id", staged.item_ids, items_inserted),
    ):
        missing = sorted(set(keys) - present(conn, table, column, retailer_id, keys))
        if missing:
            failures.append(
                CheckFailure(check, f"staged {column} not in {table} after the load", missing, len(missing))
            )
        if upserted is not None and upserted > len(keys):
            failures.append(
                CheckFailure(check, f"the upsert into {table} reported {upserted} rows for {len(keys)} distinct keys")
            )
    return failures


def check_items_have_orders(
    conn: Any, retailer_id: str, order_ids: Iterable[str], details_not_found: Iterable[str] = ()
) -> list[CheckFailure]:
    """``items_without_order``: items of ``order_ids`` (this load's) whose order is not in bol.orders,
    except orders whose detail bol answered with 404 (reported separately, see :func:`details_not_found_note`)."""
    excused = set(details_not_found)
    wanted = set(order_ids) - excused
    orphans: list[tuple[str, str]] = []
    for chunk in chunks(wanted):
        marks = ", ".join("?" for _ in chunk)
        orphans += [
            (str(row[0]), str(row[1]))
            for row in rows(
                conn,
                "SELECT i.order_item_id, i.order_id FROM bol.order_items AS i "
                "LEFT JOIN bol.orders AS o ON o.retailer_id = i.retailer_id AND o.order_id = i.order_id "
                f"WHERE i.retailer_id = ? AND o.order_id IS NULL AND i.order_id IN ({marks})",
                [retailer_id, *chunk],
            )
        ]
    if not orphans:
        return []
    orphans.sort()
    keys = [f"{item} (order {order})" for item, order in orphans]
    return [CheckFailure("items_without_order", "bol.order_items rows without their bol.orders row", keys, len(keys))]


def details_not_found_note(details_not_found: Sequence[str]) -> str | None:
    """The audit/log text for orders stored without an order row because bol's detail answered 404."""
    if not details_not_found:
        return None
    shown = ", ".join(sorted(details_not_found)[:MAX_KEYS_SHOWN])
    more = f" (+{len(details_not_found) - MAX_KEYS_SHOWN} more)" if len(details_not_found) > MAX_KEYS_SHOWN else ""
    return (
        f"items_without_order: {len(details_not_found)} listed orders have no bol.orders row because bol answered "
        f"404 for their detail; their items are stored with the list's data only and the next run listing them "
        f"fetches the detail again: {shown}{more}"
    )


def check_orders_load(
    conn: Any,
    *,
    conn_id: str,
    retailer_id: str,
    staged: StagedKeys,
    details_not_found: Sequence[str] = (),
    orders_upserted: int | None = None,
    items_inserted: int | None = None,
) -> str | None:
    """Every check of an orders load.

    Raises :class:`QualityCheckFailed` naming every failed check; otherwise returns the note for the audit
    row (orders without detail), or None.
    """
    failures = check_keys(conn, retailer_id)
    failures += check_loaded(conn, retailer_id, staged, orders_upserted, items_inserted)
    failures += check_items_have_orders(conn, retailer_id, staged.item_order_ids, details_not_found)
    enforce(failures, conn_id, retailer_id)
    note = details_not_found_note(details_not_found)
    if note:
        log.warning("Account %s (retailer %s): %s", conn_id, retailer_id, note)
    log.info(
        "Data-quality checks passed for account %s (retailer %s): %d orders and %d items staged.",
        conn_id,
        retailer_id,
        len(staged.order_ids),
        len(staged.item_ids),
    )
    return note
