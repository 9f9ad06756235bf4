"""The warehouse tables as Airflow Assets: outlets of the load tasks, so downstream DAGs can be scheduled on
them (``schedule=[ORDER_ITEMS]``, or ``ORDERS & ORDER_ITEMS``).

The URIs are logical (``bolsync://warehouse/bol/<table>``): the same on DuckDB and PostgreSQL, because the
engine is chosen at run time by the ``bol_warehouse`` connection while outlets are fixed when the DAG is
parsed. Every event of a load carries row counts of its account in ``extra`` (see :func:`load_event_extras`).

Offers: ``bol.offers`` / ``bol.offer_snapshots`` (``OFFERS``, ``OFFER_SNAPSHOTS``) are outlets of the
offers load task, with the account's offer and snapshot counts in ``extra``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

ASSET_GROUP = "bolsync_warehouse"


def table_asset(table: str) -> Asset:
    """The Asset of warehouse table ``schema.table``; its name is the table name."""
    schema, name = table.split(".", 1)
    return Asset(name=table, uri=f"bolsync://warehouse/{schema}/{name}", group=ASSET_GROUP)


ORDERS = table_asset("bol.orders")
ORDER_ITEMS = table_asset("bol.order_items")
SYNC_RUNS = table_asset("bol.sync_runs")
#: Outlets of the orders load task.
ORDERS_LOAD_OUTLETS = [ORDERS, ORDER_ITEMS, SYNC_RUNS]
OFFERS = table_asset("bol.offers")
OFFER_SNAPSHOTS = table_asset("bol.offer_snapshots")
#: Outlets of the offers load task.
OFFERS_LOAD_OUTLETS = [OFFERS, OFFER_SNAPSHOTS]


def offers_event_extras(
    conn: Any, *, conn_id: str, retailer_id: str, run_id: str, counts: dict[str, Any]
) -> dict[Asset, dict[str, Any]]:
    """The ``extra`` of each offers outlet event; ``conn`` None (a run that changed nothing) gives no row counts."""
    base = {"conn_id": conn_id, "retailer_id": retailer_id, "run_id": run_id, **counts}
    if conn is None:
        return {OFFERS: base, OFFER_SNAPSHOTS: base}

    def scalar(sql: str) -> int:
        return int(conn.execute(sql, [retailer_id]).fetchall()[0][0])

    return {
        OFFERS: {
            **base,
            "rows": scalar("SELECT count(*) FROM bol.offers WHERE retailer_id = ?"),
            "deleted_rows": scalar("SELECT count(*) FROM bol.offers WHERE retailer_id = ? AND deleted"),
        },
        OFFER_SNAPSHOTS: {**base, "rows": scalar("SELECT count(*) FROM bol.offer_snapshots WHERE retailer_id = ?")},
    }


def load_event_extras(
    conn: Any, *, conn_id: str, retailer_id: str, run_id: str, counts: dict[str, int]
) -> dict[Asset, dict[str, Any]]:
    """The ``extra`` of each outlet event of an orders load: the account, the rows it has in the table and
    what this load inserted/updated (``counts``: ``orders_inserted``, ``items_updated``, ...)."""

    def scalar(sql: str, params: list[Any]) -> int:
        return int(conn.execute(sql, params).fetchall()[0][0])

    base = {"conn_id": conn_id, "retailer_id": retailer_id, "run_id": run_id}
    return {
        ORDERS: {
            **base,
            "rows": scalar("SELECT count(*) FROM bol.orders WHERE retailer_id = ?", [retailer_id]),
            "inserted": counts.get("orders_inserted", 0),
            "updated": counts.get("orders_updated", 0),
        },
        ORDER_ITEMS: {
            **base,
            "rows": scalar("SELECT count(*) FROM bol.order_items WHERE retailer_id = ?", [retailer_id]),
            "inserted": counts.get("items_inserted", 0),
            "updated": counts.get("items_updated", 0),
        },
        SYNC_RUNS: {
            **base,
            # The load's own row is written when the task ends, so it is not counted here.
            "rows": scalar("SELECT count(*) FROM bol.sync_runs WHERE conn_id = ?", [conn_id]),
            "run_rows": scalar(
                "SELECT count(*) FROM bol.sync_runs WHERE conn_id = ? AND run_id = ?", [conn_id, run_id]
            ),
        },
    }


def stream_outlets(spec: Any) -> list[Asset]:
    """The outlets of a stream's load task (``spec``: its ``StreamSpec``): its tables and ``bol.sync_runs``."""
    return [*(table_asset(table.name) for table in spec.tables), SYNC_RUNS]


def stream_event_extras(
    conn: Any, spec: Any, *, conn_id: str, retailer_id: str, run_id: str, counts: dict[str, dict[str, int]]
) -> dict[Asset, dict[str, Any]]:
    """The ``extra`` of each outlet event of a stream's load: the account, the rows it has in each table and
    what this load inserted and really changed there (``counts`` by table), and its audit rows of the run."""

    def scalar(sql: str, params: list[Any]) -> int:
        return int(conn.execute(sql, params).fetchall()[0][0])

    base = {"conn_id": conn_id, "retailer_id": retailer_id, "run_id": run_id}
    extras = {}
    for table in spec.tables:
        changed = counts.get(table.name, {})
        extras[table_asset(table.name)] = {
            **base,
            "rows": scalar(f"SELECT count(*) FROM {table.name} WHERE retailer_id = ?", [retailer_id]),
            "inserted": int(changed.get("inserted", 0)),
            "updated": int(changed.get("updated", 0)),
        }
    extras[SYNC_RUNS] = {
        **base,
        # The load's own row is written when the task ends, so it is not counted here.
        "rows": scalar("SELECT count(*) FROM bol.sync_runs WHERE conn_id = ?", [conn_id]),
        "run_rows": scalar("SELECT count(*) FROM bol.sync_runs WHERE conn_id = ? AND run_id = ?", [conn_id, run_id]),
    }
    return extras


def emit(context: Any, extras: dict[Asset, dict[str, Any]]) -> None:
    """Put ``extras`` on the task's outlet events (sent when the task succeeds)."""
    events = context["outlet_events"]
    for asset, extra in extras.items():
        events[asset].extra = extra
