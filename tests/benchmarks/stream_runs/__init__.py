"""What the all-streams benchmark (``tests.benchmarks.stream_calls``) runs of each stream, one module per stream of
the registry, named after it (a new stream joins the benchmark by adding its module). A module defines:

* ``DAG``: the DAG the benchmark runs for it;
* ``run(phase, now) -> (logical_date, conf)``: the run of phase 1 (an empty warehouse) and phase 2 (after the
  world changed; ``conf`` is merged into the run conf, which names the account);
* ``snapshot(account) -> Any``: what the figures need of the world and the warehouse just before a run;
* ``change(account) -> None``: the world's changes between the two runs (may do nothing);
* ``figures(account, phase, now, before, after) -> Figures``: the fewest calls possible for the data the run
  landed, and a naive full re-read's calls, from the snapshots before and after it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import requests

from bolsync.warehouse.connection import connect_warehouse


@dataclass(frozen=True)
class Figures:
    """One stream's minimum and naive calls for one account's run (all its endpoints together)."""

    fewest: int
    naive: int


@dataclass(frozen=True)
class Account:
    """One benchmark account: its connection, its emulator client and retailer, the emulator and the warehouse."""

    conn_id: str
    client_id: str
    retailer_id: str
    url: str
    warehouse: str
    export_pending_polls: int = 2

    def truth(self, table: str) -> list[dict[str, Any]]:
        """The emulator's ground truth ``/_emulator/accounts/{client}/{table}``."""
        response = requests.get(f"{self.url}/_emulator/accounts/{self.client_id}/{table}", timeout=30)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
        return rows

    def act(self, action: str, **body: Any) -> dict[str, Any]:
        """One world change (``POST /_emulator/world``) of this account."""
        payload = {"client_id": self.client_id, "action": action, **body}
        response = requests.post(f"{self.url}/_emulator/world", json=payload, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"world change {payload} failed: {response.status_code} {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    def keys(self, sql: str) -> set[str]:
        """The first column of ``sql`` (one ``?``: the retailer id) over the warehouse, as strings."""
        with connect_warehouse(self.warehouse) as conn:
            return {str(row[0]) for row in conn.query(sql, [self.retailer_id])}


def module_of(stream: str) -> ModuleType:
    """The benchmark module of ``stream``; ModuleNotFoundError names the file to add."""
    try:
        return importlib.import_module(f"{__name__}.{stream}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{stream}":
            raise
        raise ModuleNotFoundError(
            f"stream {stream} has no benchmark module: add tests/benchmarks/stream_runs/{stream}.py", name=error.name
        ) from None
