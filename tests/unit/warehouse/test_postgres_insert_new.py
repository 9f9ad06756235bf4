"""New keys straight into their table (``PostgresWarehouse.insert_new``): the probe, the savepoint that gives way
to the merge, and the constants written with every row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
import pytest

from bolsync.warehouse.connection import PostgresWarehouse, connect_warehouse
from bolsync.warehouse.lineage import Lineage
from tests.unit.warehouse.test_postgres_merge import KEY, T0, TABLE, _frame, _merge, _rows, url

__all__ = ["url"]


@pytest.fixture
def staged_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables ``staged`` was asked for (the merge path stages; the direct path does not)."""
    calls: list[str] = []
    real = PostgresWarehouse.staged

    def spy(self: PostgresWarehouse, frame: pd.DataFrame, like: str) -> Any:
        calls.append(like)
        return real(self, frame, like)

    monkeypatch.setattr(PostgresWarehouse, "staged", spy)
    return calls


def test_new_keys_land_in_one_copy_with_the_constants(url: str, staged_calls: list[str]) -> None:
    lineage = Lineage("dag", "run'1", T0)
    with connect_warehouse(url) as conn, conn.transaction():
        now = conn.scalar("SELECT now()")
        counts = conn.merge(TABLE, _frame(range(50)), KEY, inserted_only={"first_synced_at": "now()"})
        assert conn.insert_new(TABLE, _frame(range(50, 60)), KEY, {"first_synced_at": lineage.sql()["extracted_at"]})
    assert counts == (50, 0)
    assert staged_calls == []
    rows = _rows(url)
    assert len(rows) == 60
    assert rows["I000007"] == (T0, 1, "a", Decimal("8.25"))
    with psycopg.connect(url) as check:
        synced = dict(check.execute(f"SELECT item_id, first_synced_at FROM {TABLE}").fetchall())
    assert synced["I000003"] == now
    assert synced["I000055"] == T0


@pytest.mark.parametrize("probed", [True, False], ids=["probed", "missed-by-the-probe"])
def test_a_stored_key_sends_the_frame_to_the_merge(
    url: str, staged_calls: list[str], monkeypatch: pytest.MonkeyPatch, probed: bool
) -> None:
    """A stored key the probe finds: no ``COPY``. One it misses: the ``COPY`` fails in its savepoint and is
    rolled back. Either way the merge gives the right counts and rows."""
    monkeypatch.setattr(PostgresWarehouse, "PROBE_KEYS", 2)  # the first and the last key
    with connect_warehouse(url) as conn:
        with conn.transaction():
            _merge(conn, _frame(range(0, 1) if probed else range(5, 6), hours=-1))
        staged_calls.clear()
        with conn.transaction():
            assert _merge(conn, _frame(range(10))) == (9, 1)
    assert staged_calls == [TABLE]
    rows = _rows(url)
    assert len(rows) == 10
    assert {row[0] for row in rows.values()} == {T0}


def test_only_inside_a_transaction_and_only_constants(url: str) -> None:
    with connect_warehouse(url) as conn:
        assert not conn.insert_new(TABLE, _frame(range(3)), KEY, {"first_synced_at": "now()"})
        with conn.transaction():
            assert not conn.insert_new(TABLE, _frame(range(3)), KEY, {"first_synced_at": "excluded.version"})
            assert not conn.insert_new(TABLE, _frame(range(0)), KEY, {"first_synced_at": "now()"})
            assert not conn.insert_new(TABLE, _frame(range(3)), ["quantity"], {"first_synced_at": "now()"})
    assert _rows(url) == {}


def test_duplicate_keys_in_a_new_frame_still_fail_and_leave_nothing(url: str) -> None:
    frame = pd.concat([_frame(range(3)), _frame(range(2, 3), hours=1)], ignore_index=True)
    with connect_warehouse(url) as conn, pytest.raises(psycopg.errors.CardinalityViolation), conn.transaction():
        _merge(conn, frame)
    assert _rows(url) == {}
