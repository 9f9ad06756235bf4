"""The data-quality checks of an orders load, on an in-memory DuckDB migrated like the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from bolsync.orders import quality
from bolsync.orders.quality import StagedKeys, check_orders_load, staged_keys
from bolsync.runs import quality as runs_quality
from bolsync.runs.quality import QualityCheckFailed
from bolsync.warehouse.migrations import migrate

R = "1000001"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    migrate(db)
    yield db
    db.close()


def _order(conn: Any, order_id: str | None, retailer_id: str = R) -> None:
    conn.execute(
        "INSERT INTO bol.orders (retailer_id, order_id, first_synced_at) VALUES (?, ?, now())", [retailer_id, order_id]
    )


def _item(conn: Any, item_id: str | None, order_id: str | None, changed: datetime = NOW, retailer_id: str = R) -> None:
    conn.execute(
        "INSERT INTO bol.order_items (retailer_id, order_id, order_item_id, latest_changed_at, first_synced_at) "
        "VALUES (?, ?, ?, ?, now())",
        [retailer_id, order_id, item_id, changed],
    )


def _without_constraints(conn: Any, table: str) -> None:
    """The table as a copy without its primary key and NOT NULLs (as if recreated by hand)."""
    conn.execute(f"CREATE TABLE bol.copy_of AS SELECT * FROM bol.{table}")
    conn.execute(f"DROP TABLE bol.{table}")
    conn.execute(f"ALTER TABLE bol.copy_of RENAME TO {table}")


def _keys(orders: set[str], items: dict[str, str]) -> StagedKeys:
    return StagedKeys(frozenset(orders), frozenset(items), frozenset(items.values()))


def _check(conn: Any, staged: StagedKeys, **kwargs: Any) -> str | None:
    return check_orders_load(conn, conn_id="bol_shop", retailer_id=R, staged=staged, **kwargs)


def _failure(conn: Any, staged: StagedKeys, **kwargs: Any) -> str:
    with pytest.raises(QualityCheckFailed) as raised:
        _check(conn, staged, **kwargs)
    message = str(raised.value)
    assert "account 'bol_shop' (retailer 1000001)" in message
    return message


def test_a_clean_load_passes(conn) -> None:
    _order(conn, "O1")
    _item(conn, "I1", "O1")
    _item(conn, "I2", "O1")
    assert _check(conn, _keys({"O1"}, {"I1": "O1", "I2": "O1"}), orders_upserted=1, items_inserted=2) is None


def test_duplicate_order_keys_fail_naming_the_keys(conn) -> None:
    _without_constraints(conn, "orders")
    for order_id in ("O1", "O1", "O2", "O2", "O2", "O3"):
        _order(conn, order_id)
    _order(conn, "O1", retailer_id="other")  # another retailer's rows are not this load's business
    message = _failure(conn, _keys(set(), {}))
    assert "orders_key: duplicate order_id in bol.orders (2): O1 (x2), O2 (x3)" in message


def test_null_keys_fail(conn) -> None:
    _without_constraints(conn, "order_items")
    _order(conn, "O1")
    _item(conn, None, "O1")
    _item(conn, "I9", None)
    message = _failure(conn, _keys(set(), {}))
    assert "order_items_key: null order_item_id or order_id in bol.order_items (2)" in message
    assert "order_item_id=I9, order_id=NULL" in message
    assert "order_item_id=NULL, order_id=O1" in message


def test_duplicate_item_keys_fail_and_at_most_20_keys_are_named(conn) -> None:
    _without_constraints(conn, "order_items")
    _order(conn, "O1")
    for n in range(25):
        _item(conn, f"I{n:02d}", "O1")
        _item(conn, f"I{n:02d}", "O1")
    message = _failure(conn, _keys(set(), {}))
    assert "order_items_key: duplicate order_item_id in bol.order_items (25): I00 (x2)" in message
    assert "I19 (x2) (+5 more)" in message
    assert "I20" not in message


def test_staged_keys_missing_from_the_warehouse_fail(conn) -> None:
    _order(conn, "O1")
    _item(conn, "I1", "O1")
    message = _failure(conn, _keys({"O1", "O2"}, {"I1": "O1", "I2": "O1", "I3": "O2"}))
    assert "orders_loaded: staged order_id not in bol.orders after the load (1): O2" in message
    assert "order_items_loaded: staged order_item_id not in bol.order_items after the load (2): I2, I3" in message


def test_more_rows_upserted_than_distinct_keys_staged_fails(conn) -> None:
    _order(conn, "O1")
    _item(conn, "I1", "O1")
    message = _failure(conn, _keys({"O1"}, {"I1": "O1"}), orders_upserted=2, items_inserted=3)
    assert "orders_loaded: the upsert into bol.orders reported 2 rows for 1 distinct keys" in message
    assert "order_items_loaded: the upsert into bol.order_items reported 3 rows for 1 distinct keys" in message


def test_items_without_their_order_fail(conn) -> None:
    _order(conn, "O1")
    _item(conn, "I1", "O1")
    _item(conn, "I2", "O2")
    _item(conn, "I3", "O3")  # not touched by this load: not its business
    message = _failure(conn, _keys({"O1"}, {"I1": "O1", "I2": "O2"}))
    assert "items_without_order: bol.order_items rows without their bol.orders row (1): I2 (order O2)" in message
    assert "I3" not in message


def test_orders_whose_detail_answered_404_are_excused_but_reported(conn, caplog) -> None:
    _order(conn, "O1")
    _item(conn, "I1", "O1")
    _item(conn, "I2", "O2")
    with caplog.at_level("WARNING"):
        note = _check(conn, _keys({"O1"}, {"I1": "O1", "I2": "O2"}), details_not_found=["O2"])
    assert note is not None
    assert note.startswith("items_without_order: 1 listed orders have no bol.orders row because bol answered 404")
    assert note.endswith(": O2")
    assert "O2" in caplog.text
    assert "bol_shop" in caplog.text


def test_staged_keys_are_the_distinct_keys_of_the_staged_files() -> None:
    listed = [
        {"orderId": "O1", "orderItems": [{"orderItemId": "I1"}]},
        {"orderId": "O2", "orderItems": [{"orderItemId": "I2"}, {"orderItemId": "I2"}]},
    ]
    details = [{"orderId": "O1", "orderItems": [{"orderItemId": "I1"}, {"orderItemId": "I3"}]}]
    assert staged_keys(listed, details) == StagedKeys(
        frozenset({"O1"}), frozenset({"I1", "I2", "I3"}), frozenset({"O1", "O2"})
    )


def test_many_keys_are_checked_in_chunks(conn, monkeypatch) -> None:
    monkeypatch.setattr(runs_quality, "IN_CHUNK", 7)
    for n in range(30):
        _order(conn, f"O{n}")
        _item(conn, f"I{n}", f"O{n}")
    staged = _keys({f"O{n}" for n in range(30)}, {f"I{n}": f"O{n}" for n in range(30)})
    assert _check(conn, staged) is None


def test_a_failed_check_is_recorded_in_sync_runs_and_alerts_at_once(tmp_path, monkeypatch) -> None:
    """QualityCheckFailed is not retried: audited() records the failed try and sends the final alert."""
    from types import SimpleNamespace

    from bolsync.runs import audit as audit_module

    sent = []
    monkeypatch.setattr(audit_module.alerts, "send", lambda alert, context: sent.append(alert))
    ti = SimpleNamespace(
        dag_id="bol_orders_hourly", run_id="r1", task_id="sync_account.load", map_index=0, try_number=1, max_tries=3
    )
    database = tmp_path / "warehouse.duckdb"
    failure = quality.CheckFailure("orders_loaded", "staged order_id not in bol.orders after the load", ["O2"], 1)
    with (
        pytest.raises(QualityCheckFailed),
        audit_module.audited({"ti": ti}, database, {"conn_id": "bol_shop", "retailer_id": R}, None),  # type: ignore[arg-type]
    ):
        quality.enforce([failure], "bol_shop", R)
    [alert] = sent
    assert "orders_loaded" in alert.body
    with duckdb.connect(str(database)) as db:
        [(status, error)] = db.execute("SELECT status, error FROM bol.sync_runs").fetchall()
    assert status == "failed"
    assert error.startswith(
        "QualityCheckFailed: Data-quality check(s) failed for account 'bol_shop' (retailer 1000001)"
    )
    assert "orders_loaded: staged order_id not in bol.orders after the load (1): O2" in error
