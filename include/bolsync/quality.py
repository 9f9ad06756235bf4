"""Data-quality checks run after each orders load; a failed check fails the load task with a clear message.

The checks are pure functions over a DB-API-like connection (anything with ``execute(sql, params)``
returning an object with ``fetchall()``: what ``connect_warehouse`` yields, or a raw DuckDB connection),
in the SQL both DuckDB and PostgreSQL accept, with ``?`` parameters. Each returns the failures it found
(:class:`CheckFailure`: the check's name, the table and at most :data:`MAX_KEYS_SHOWN` offending keys);
:func:`enforce` turns failures into one :class:`QualityCheckFailed` (an ``AirflowFailException``: a
retry cannot fix bad data) naming the checks, the account and the keys.

Checks (``retailer`` = the account just loaded):

- ``orders_key`` / ``order_items_key``: the natural keys of bol.orders and bol.order_items are unique and
  not null for the retailer (the primary keys should guarantee it; the check catches tables recreated
  without them).
- ``orders_loaded`` / ``order_items_loaded``: every distinct key staged by the extract (order ids of the
  staged full orders; order item ids of the staged list and full orders) is in the warehouse afterwards,
  and the upsert did not report more rows than distinct keys.
- ``items_without_order``: no item of an order touched by this load lacks its bol.orders row. An order
  whose detail call answered 404 (``details_not_found`` of the extract) has no order row by design: its
  items keep the list's data. Those orders are excused here but always reported (:func:`details_not_found_note`
  goes into the audit row and the task log); they are fetched again by the next run that lists them.
- ``freshness``: scheduled runs only: the account's newest ``latest_changed_at`` (or, for an account
  without items, its last successful load) is not older than ``bolsync_freshness_hours`` (default 48).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

log = logging.getLogger(__name__)

FRESHNESS_VARIABLE = "bolsync_freshness_hours"
DEFAULT_FRESHNESS_HOURS = 48.0
#: Offending keys named in a failure message (the count is always given).
MAX_KEYS_SHOWN = 20
#: Keys per ``IN (...)`` list (well below PostgreSQL's 65,535 parameters per statement).
IN_CHUNK = 1000


class QualityCheckFailed(AirflowFailException):
    """A data-quality check failed after a load; not retried (the data, not the try, is wrong)."""

    def __init__(self, failures: Sequence[CheckFailure], conn_id: str, retailer_id: str) -> None:
        self.failures = list(failures)
        names = ", ".join(f.check for f in failures)
        lines = [f"Data-quality check(s) failed for account '{conn_id}' (retailer {retailer_id}): {names}."]
        lines += [f"- {f.describe()}" for f in failures]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class CheckFailure:
    check: str
    problem: str
    keys: list[str] = field(default_factory=list)
    count: int = 0

    def describe(self) -> str:
        text = f"{self.check}: {self.problem}"
        if self.keys:
            shown = ", ".join(self.keys[:MAX_KEYS_SHOWN])
            more = f" (+{self.count - MAX_KEYS_SHOWN} more)" if self.count > MAX_KEYS_SHOWN else ""
            text += f" ({self.count}): {shown}{more}"
        return text


@dataclass(frozen=True)
class StagedKeys:
    """The distinct keys an extract staged: what the load must have put into the warehouse."""

    order_ids: frozenset[str]  # staged full orders: the rows of bol.orders
    item_ids: frozenset[str]  # items of the staged list and full orders: the rows of bol.order_items
    item_order_ids: frozenset[str]  # the orders those items belong to


def staged_keys(listed: Iterable[Mapping[str, Any]], details: Iterable[Mapping[str, Any]]) -> StagedKeys:
    """Distinct keys of the staged list entries and full orders (as the extract wrote them)."""
    order_ids: set[str] = set()
    item_ids: set[str] = set()
    item_order_ids: set[str] = set()
    for source, is_detail in ((details, True), (listed, False)):
        for order in source:
            order_id = str(order.get("orderId"))
            if is_detail:
                order_ids.add(order_id)
            for item in order.get("orderItems") or []:
                item_ids.add(str(item.get("orderItemId")))
                item_order_ids.add(order_id)
    return StagedKeys(frozenset(order_ids), frozenset(item_ids), frozenset(item_order_ids))


def _rows(conn: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql, list(params)).fetchall())


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


def _present(conn: Any, table: str, column: str, retailer_id: str, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys):
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT DISTINCT {column} FROM {table} WHERE retailer_id = ? AND {column} IN ({marks})"
        found.update(str(row[0]) for row in _rows(conn, sql, [retailer_id, *chunk]))
    return found


def _limited(conn: Any, sql: str, params: Sequence[Any]) -> tuple[list[tuple[Any, ...]], int]:
    """The first rows of ``sql`` (enough to show) and how many it has in all."""
    count = _rows(conn, f"SELECT count(*) FROM ({sql}) AS offending", params)[0][0]
    if not count:
        return [], 0
    return _rows(conn, f"{sql} ORDER BY 1 LIMIT {MAX_KEYS_SHOWN}", params), int(count)


def check_keys(conn: Any, retailer_id: str) -> list[CheckFailure]:
    """``orders_key`` / ``order_items_key``: keys unique and not null for the retailer."""
    failures = []
    for check, table, key, also_not_null in (
        ("orders_key", "bol.orders", "order_id", None),
        ("order_items_key", "bol.order_items", "order_item_id", "order_id"),
    ):
        rows, count = _limited(
            conn,
            f"SELECT {key}, count(*) FROM {table} WHERE retailer_id = ? AND {key} IS NOT NULL "
            f"GROUP BY {key} HAVING count(*) > 1",
            [retailer_id],
        )
        if count:
            keys = [f"{row[0]} (x{row[1]})" for row in rows]
            failures.append(CheckFailure(check, f"duplicate {key} in {table}", keys, count))
        null_columns = [key, *([also_not_null] if also_not_null else [])]
        where = " OR ".join(f"{c} IS NULL" for c in null_columns)
        rows, count = _limited(
            conn,
            f"SELECT {', '.join(null_columns)} FROM {table} WHERE retailer_id = ? AND ({where})",
            [retailer_id],
        )
        if count:
            keys = [
                ", ".join(f"{c}={v if v is not None else 'NULL'}" for c, v in zip(null_columns, row, strict=True))
                for row in rows
            ]
            failures.append(CheckFailure(check, f"null {' or '.join(null_columns)} in {table}", keys, count))
    return failures


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
        ("orders_loaded", "bol.orders", "order_id", staged.order_ids, orders_upserted),
        ("order_items_loaded", "bol.order_items", "order_item_id", staged.item_ids, items_inserted),
    ):
        missing = sorted(set(keys) - _present(conn, table, column, retailer_id, keys))
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
    for chunk in _chunks(wanted):
        marks = ", ".join("?" for _ in chunk)
        orphans += [
            (str(row[0]), str(row[1]))
            for row in _rows(
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


def newest_change(conn: Any, retailer_id: str) -> datetime | None:
    """The retailer's newest ``latest_changed_at`` in bol.order_items (None without items)."""
    rows = _rows(conn, "SELECT max(latest_changed_at) FROM bol.order_items WHERE retailer_id = ?", [retailer_id])
    return rows[0][0] if rows else None


def last_successful_load(conn: Any, conn_id: str) -> datetime | None:
    """When a load of the account last succeeded (bol.sync_runs; the running try is not recorded yet)."""
    rows = _rows(
        conn,
        "SELECT max(finished_at) FROM bol.sync_runs WHERE conn_id = ? AND status = 'success' AND task_id LIKE ?",
        [conn_id, "%load"],
    )
    return rows[0][0] if rows else None


def check_freshness(
    conn: Any, conn_id: str, retailer_id: str, now: datetime, threshold_hours: float
) -> list[CheckFailure]:
    """``freshness``: the newest order change of the account (else its last successful load) is at most
    ``threshold_hours`` old. Two aggregate queries; nothing to judge for an account with neither."""
    newest, what = newest_change(conn, retailer_id), "newest latest_changed_at in bol.order_items"
    if newest is None:
        newest, what = last_successful_load(conn, conn_id), "last successful load in bol.sync_runs"
    if newest is None:
        return []
    hours = (now - newest).total_seconds() / 3600
    if hours <= threshold_hours:
        return []
    return [
        CheckFailure(
            "freshness",
            f"the {what} is {newest.isoformat()}, {hours:.1f} h ago, older than {threshold_hours:g} h "
            f"(Variable {FRESHNESS_VARIABLE}): bol reported no newer order change. If the shop had no orders, "
            "raise the threshold; otherwise check the runs and backfill the gap",
        )
    ]


def freshness_hours(raw: str | None) -> float:
    """The threshold from the Variable (hours, > 0), else :data:`DEFAULT_FRESHNESS_HOURS`."""
    if raw in (None, ""):
        return DEFAULT_FRESHNESS_HOURS
    try:
        hours = float(raw)
    except (TypeError, ValueError):
        hours = -1.0
    if not hours > 0:
        log.error(
            "Variable %s must be a positive number of hours, got %r; using %s.",
            FRESHNESS_VARIABLE,
            raw,
            DEFAULT_FRESHNESS_HOURS,
        )
        return DEFAULT_FRESHNESS_HOURS
    return hours


def enforce(failures: Sequence[CheckFailure], conn_id: str, retailer_id: str) -> None:
    """Raise :class:`QualityCheckFailed` when any check failed."""
    if failures:
        raise QualityCheckFailed(failures, conn_id, retailer_id)


def check_orders_load(
    conn: Any,
    *,
    conn_id: str,
    retailer_id: str,
    staged: StagedKeys,
    details_not_found: Sequence[str] = (),
    orders_upserted: int | None = None,
    items_inserted: int | None = None,
    freshness: tuple[datetime, float] | None = None,
) -> str | None:
    """Every check of an orders load (``freshness`` = (now, threshold hours), None to skip it).

    Raises :class:`QualityCheckFailed` naming every failed check; otherwise returns the note for the audit
    row (orders without detail), or None.
    """
    failures = check_keys(conn, retailer_id)
    failures += check_loaded(conn, retailer_id, staged, orders_upserted, items_inserted)
    failures += check_items_have_orders(conn, retailer_id, staged.item_order_ids, details_not_found)
    if freshness is not None:
        failures += check_freshness(conn, conn_id, retailer_id, *freshness)
    enforce(failures, conn_id, retailer_id)
    note = details_not_found_note(details_not_found)
    if note:
        log.warning("Account %s (retailer %s): %s", conn_id, retailer_id, note)
    log.info(
        "Data-quality checks passed for account %s (retailer %s): %d orders and %d items staged%s.",
        conn_id,
        retailer_id,
        len(staged.order_ids),
        len(staged.item_ids),
        "" if freshness is None else ", freshness checked",
    )
    return note
