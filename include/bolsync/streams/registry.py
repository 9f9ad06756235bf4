"""Every stream bolsync syncs, by name; what iterates over streams (coverage, replay, planner, assets, docs)
reads this."""

from __future__ import annotations

from bolsync.inventory.spec import SPEC as INVENTORY
from bolsync.invoices.spec import SPEC as INVOICES
from bolsync.offers.spec import SPEC as OFFERS
from bolsync.orders.spec import SPEC as ORDERS
from bolsync.returns.spec import SPEC as RETURNS
from bolsync.shipments.spec import SPEC as SHIPMENTS
from bolsync.streams.spec import StreamSpec

STREAMS: dict[str, StreamSpec] = {spec.name: spec for spec in (ORDERS, OFFERS, RETURNS, SHIPMENTS, INVENTORY, INVOICES)}


def stream(name: str) -> StreamSpec:
    """The stream called ``name``; KeyError naming the known ones."""
    try:
        return STREAMS[name]
    except KeyError:
        raise KeyError(f"no stream {name!r}; the streams are {', '.join(STREAMS)}") from None


def stream_of_dag(dag_id: str) -> StreamSpec | None:
    """The stream a DAG syncs (None for the DAGs that sync none)."""
    found = [spec for spec in STREAMS.values() if dag_id in spec.dags]
    return found[0] if len(found) == 1 else None
