from __future__ import annotations

import json
import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bolsync.orders.extract import DETAILS_FILE, LIST_FILE
from bolsync.orders.load import known_order_ids, load_staged_orders
from bolsync.orders.transform import without_personal_data
from bolsync.runs.audit import record_sync_run
from bolsync.runs.staging import NdjsonWriter
from bolsync.warehouse import migrations
from bolsync.warehouse.base import Table
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse, select_all
from bolsync.warehouse.migrations import migration_files
from bolsync_provider.errors import BolConfigError
from tests.support.fixture_server import Fixture
from tests.support.warehouses import reset_postgres


def _detail(order_id: str = "O1", changed: str = "2026-11-20T10:00:00+01:00") -> dict[str, Any]:
    order = json.loads(Fixture.load("200-order").body)
    order["orderId"] = order_id
    for n, item in enumerate(order["orderItems"]):
        item["orderItemId"] = f"{order_id}-{n}"
        item.update(
            quantityShipped=0,
            quantityCancelled=0,
            latestChangedDateTime=changed,
            totalPrice=item["unitPrice"],
        )
    return without_personal_data(order)


def _listed(order_id: str, item: str, changed: str, shipped: int = 0, status: str = "OPEN") -> dict[str, Any]:
    return {
        "orderId": order_id,
        "orderPlacedDateTime": "2026-11-20T09:00:00+01:00",
        "orderItems": [
            {
                "orderItemId": item,
                "ean": "8785056370398",
                "fulfilmentMethod": "FBB",
                "fulfilmentStatus": status,
                "quantity": 1,
                "quantityShipped": shipped,
                "quantityCancelled": 0,
                "cancellationRequest": False,
                "latestChangedDateTime": changed,
            }
        ],
    }


def _stage(folder: Path, details: list[dict], listed: list[dict]) -> Path:
    with NdjsonWriter(folder / DETAILS_FILE, append=False) as out:
        for d in details:
            out.write(d)
    with NdjsonWriter(folder / LIST_FILE, append=False) as out:
        for o in listed:
            out.write(o)
    return folder


def _table(conn, name: str) -> list[tuple]:
    return select_all(conn, f"bol.{name}", exclude=["first_synced_at"])


@pytest.fixture
def database(warehouse: WarehouseTarget) -> WarehouseTarget:
    """Every test here runs on DuckDB and on PostgreSQL (see tests/support/warehouses.py)."""
    return warehouse


def test_load_is_idempotent(database: WarehouseTarget, tmp_path: Path) -> None:
    staging = _stage(
        tmp_path / "s", [_detail("O1"), _detail("O2")], [_listed("O1", "O1-0", "2026-11-20T10:00:00+01:00")]
    )
    with connect_warehouse(database) as conn:
        first = load_staged_orders(conn, "42", staging)
        snapshot = (_table(conn, "orders"), _table(conn, "order_items"))
        again = load_staged_orders(conn, "42", staging)
        assert (_table(conn, "orders"), _table(conn, "order_items")) == snapshot
    assert (first.orders.inserted, first.items.inserted) == (2, 4)
    assert (again.orders.inserted, again.orders.updated, again.items.inserted, again.items.updated) == (
        0,
        0,
        0,
        0,
    )


def test_newer_list_state_updates_status_but_keeps_prices(database: WarehouseTarget, tmp_path: Path) -> None:
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _stage(tmp_path / "a", [_detail("O1")], []))
        result = load_staged_orders(
            conn,
            "42",
            _stage(tmp_path / "b", [], [_listed("O1", "O1-0", "2026-11-21T10:00:00+01:00", 1, "HANDLED")]),
        )
        row = conn.execute(
            "SELECT quantity_shipped, fulfilment_status, unit_price, product_title FROM bol.order_items "
            "WHERE order_item_id = 'O1-0'"
        ).fetchone()
    assert result.items.updated == 1
    assert row == (1, "HANDLED", Decimal("19.99"), "Star Wars Prequel Trilogy")


def test_older_state_never_overwrites_newer(database: WarehouseTarget, tmp_path: Path) -> None:
    newer = _listed("O1", "O1-0", "2026-11-21T10:00:00+01:00", 1, "HANDLED")
    older = _listed("O1", "O1-0", "2026-11-20T11:00:00+01:00", 0, "OPEN")
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "42", _stage(tmp_path / "a", [_detail("O1")], [newer]))
        result = load_staged_orders(conn, "42", _stage(tmp_path / "b", [], [older]))
        row = conn.execute(
            "SELECT quantity_shipped, fulfilment_status FROM bol.order_items WHERE order_item_id='O1-0'"
        ).fetchone()
    assert row == (1, "HANDLED")
    assert result.items.updated == 0


def test_retailers_are_kept_apart(database: WarehouseTarget, tmp_path: Path) -> None:
    staging = _stage(tmp_path / "s", [_detail("O1")], [])
    with connect_warehouse(database) as conn:
        load_staged_orders(conn, "1", staging)
        load_staged_orders(conn, "2", staging)
        assert known_order_ids(conn, "1", {"O1", "O9"}) == {"O1"}
        assert conn.execute("SELECT count(*) FROM bol.orders").fetchone() == (2,)


def test_failed_load_leaves_nothing(database: WarehouseTarget, tmp_path: Path, monkeypatch) -> None:
    from bolsync.orders import load

    def broken_merge(*_: Any, **__: Any) -> None:
        raise RuntimeError("the item merge failed")

    monkeypatch.setattr(load, "merge_order_items", broken_merge)  # after the orders merged
    listed = _listed("O1", "O1-0", "2026-11-20T10:00:00+01:00")
    with connect_warehouse(database) as conn:
        with pytest.raises(RuntimeError, match="item merge failed"):
            load_staged_orders(conn, "42", _stage(tmp_path / "s", [_detail("O1")], [listed]))
        assert conn.execute("SELECT count(*) FROM bol.orders").fetchone() == (0,)


def test_migrations_apply_once(database: WarehouseTarget) -> None:
    with connect_warehouse(database) as conn:
        pass
    with connect_warehouse(database) as conn:
        versions = conn.query("SELECT version FROM bol.schema_migrations")
    assert [v for v, *_ in migration_files(database.backend)] == sorted(row[0] for row in versions)


def test_sync_run_rows_are_replaced_per_try(database: WarehouseTarget) -> None:
    from datetime import UTC, datetime

    row = {
        "dag_id": "d",
        "run_id": "r",
        "task_id": "t",
        "map_index": 0,
        "try_number": 1,
        "conn_id": "c",
        "status": "failed",
        "started_at": datetime.now(UTC),
        "finished_at": datetime.now(UTC),
    }
    with connect_warehouse(database) as conn:
        record_sync_run(conn, row)
        record_sync_run(conn, {**row, "status": "success"})
        record_sync_run(conn, {**row, "try_number": 2, "status": "success"})
        assert conn.query("SELECT try_number, status FROM bol.sync_runs ORDER BY 1") == [
            (1, "success"),
            (2, "success"),
        ]


def test_connections_are_serialised_across_threads(tmp_path: Path) -> None:
    """DuckDB only: one writer per file (PostgreSQL has its own concurrency)."""
    database = tmp_path / "warehouse.duckdb"
    order: list[str] = []

    def writer(name: str) -> None:
        with connect_warehouse(database) as conn:
            order.append(f"{name}-in")
            conn.execute("SELECT 1")
            order.append(f"{name}-out")

    threads = [threading.Thread(target=writer, args=(str(n),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(order) == 8
    assert all(order[i].endswith("-in") and order[i + 1].endswith("-out") for i in range(0, 8, 2))


def test_adding_a_column_is_a_migration(database: WarehouseTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect_warehouse(database) as conn:
        conn.execute("INSERT INTO bol.orders (retailer_id, order_id, first_synced_at) VALUES ('1', 'O1', now())")
    bundled = migrations.migration_files
    extra = (999, "999_orders_note.sql", "ALTER TABLE bol.orders ADD COLUMN note VARCHAR;")
    monkeypatch.setattr(migrations, "migration_files", lambda backend="duckdb": [*bundled(backend), extra])
    with connect_warehouse(database) as conn:
        assert conn.query("SELECT order_id, note FROM bol.orders") == [("O1", None)]
    with connect_warehouse(database) as conn:  # applied once
        assert conn.query("SELECT name FROM bol.schema_migrations WHERE version = 999") == [("999_orders_note.sql",)]


def test_a_failed_migration_is_rolled_back_and_not_recorded(
    database: WarehouseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = migrations.migration_files
    broken = (998, "998_broken.sql", "CREATE TABLE bol.half (a INTEGER); SELECT * FROM bol.no_such_table;")
    monkeypatch.setattr(migrations, "migration_files", lambda backend="duckdb": [*bundled(backend), broken])
    with pytest.raises(Exception, match="no_such_table"), connect_warehouse(database):
        pass
    monkeypatch.setattr(migrations, "migration_files", bundled)
    with connect_warehouse(database) as conn:
        assert conn.query("SELECT count(*) FROM bol.schema_migrations WHERE version = 998") == [(0,)]
        assert conn.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'") == [(0,)]


def test_engine_variants_replace_the_common_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bolsync"
    (folder / "sql").mkdir(parents=True)
    (folder / "sql" / "001_a.sql").write_text("common")
    (folder / "sql" / "001_a.postgres.sql").write_text("pg")
    (folder / "sql" / "002_b.sql").write_text("b")
    monkeypatch.setattr(migrations.resources, "files", lambda package: folder)
    assert migration_files("postgres") == [(1, "001_a.sql", "pg"), (2, "002_b.sql", "b")]
    assert migration_files("duckdb") == [(1, "001_a.sql", "common"), (2, "002_b.sql", "b")]


def test_concurrent_first_runs_apply_each_migration_once(database: WarehouseTarget) -> None:
    """PostgreSQL: an advisory lock; DuckDB: the file lock."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def first_run() -> None:
        try:
            barrier.wait()
            with connect_warehouse(database) as conn:
                conn.execute("SELECT 1")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=first_run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with connect_warehouse(database) as conn:
        versions = conn.query("SELECT version, count(*) FROM bol.schema_migrations GROUP BY version ORDER BY 1")
    assert versions == [(v, 1) for v, *_ in migration_files(database.backend)]


def test_known_order_ids_and_merge_counts(database: WarehouseTarget) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "retailer_id": pd.array(["1", "1"], dtype="string"),
            "order_id": pd.array(["A", "B"], dtype="string"),
            "item_count": pd.array([1, 2], dtype="Int64"),
        }
    )
    key = ("retailer_id", "order_id")
    extra = {"first_synced_at": "now()"}
    with connect_warehouse(database) as conn:
        assert conn.merge("bol.orders", frame, key, inserted_only=extra) == (2, 0)
        assert conn.merge("bol.orders", frame, key, inserted_only=extra) == (0, 0)
        changed = frame.assign(item_count=pd.array([1, 5], dtype="Int64"))
        assert conn.merge("bol.orders", changed, key, inserted_only=extra) == (0, 1)
        assert conn.query("SELECT order_id, item_count FROM bol.orders ORDER BY 1") == [("A", 1), ("B", 5)]
        assert known_order_ids(conn, "1", ["A", "C"]) == {"A"}
        assert known_order_ids(conn, "2", ["A"]) == set()


def _item(order_id: str, item: str, changed: str, shipped: int, ean: str | None = "8785056370398") -> dict[str, Any]:
    listed = _listed(order_id, item, changed, shipped=shipped, status="HANDLED" if shipped else "OPEN")
    listed["orderItems"][0]["ean"] = ean
    return listed


def test_a_streamed_load_equals_one_merge_of_the_whole_window(database: WarehouseTarget, tmp_path: Path) -> None:
    """Chunks of one order give the tables one chunk of everything gives, duplicates across chunks included.

    On PostgreSQL the first chunks are all new and land straight in the tables (``insert_new``); the later
    duplicates are merged over them: the newer O3 wins, and the later of two O5 at the same time wins."""
    other_country = {**_detail("O5"), "shipmentDetails": {"countryCode": "BE"}}
    details = [_detail(f"O{n}") for n in range(7)] + [_detail("O3", "2026-11-20T12:00:00+01:00"), other_country]
    listed = [
        _item("O1", "O1-0", "2026-11-20T11:00:00+01:00", shipped=1),
        _item("O1", "O1-0", "2026-11-20T10:30:00+01:00", shipped=0),  # older, later in the file: loses
        _item("O2", "O2-0", "2026-11-20T11:00:00+01:00", shipped=0),
        _item("O2", "O2-0", "2026-11-20T11:00:00+01:00", shipped=1),  # same time, later in the file: wins
        _item("O9", "O9-0", "2026-11-20T11:00:00+01:00", shipped=0, ean=None),  # listed only, no detail
    ]
    staging = _stage(tmp_path / "s", details, listed)
    tables = {}
    for chunk in (1, 1000):
        with connect_warehouse(database) as conn:
            conn.execute("DELETE FROM bol.order_items")
            conn.execute("DELETE FROM bol.orders")
            result = load_staged_orders(conn, "1", staging, chunk=chunk)
            tables[chunk] = (_table(conn, "orders"), _table(conn, "order_items"))
        assert result.orders.inserted == 7
        assert result.items.inserted == len(tables[chunk][1])
    assert tables[1] == tables[1000]
    with connect_warehouse(database) as conn:
        states = conn.query(
            "SELECT order_item_id, quantity_shipped, fulfilment_status, ean IS NULL FROM bol.order_items "
            "WHERE order_item_id IN ('O1-0', 'O2-0', 'O9-0') ORDER BY 1"
        )
    assert states == [("O1-0", 1, "HANDLED", False), ("O2-0", 1, "HANDLED", False), ("O9-0", 0, "OPEN", True)]
    with connect_warehouse(database) as conn:
        assert conn.scalar("SELECT shipment_country_code FROM bol.orders WHERE order_id = 'O5'") == "BE"
        changed = conn.scalar("SELECT max(latest_changed_at) FROM bol.order_items WHERE order_id = 'O3'")
    assert changed.isoformat().startswith("2026-11-20T11:00:00")


def test_new_chunks_land_straight_in_postgres_until_one_is_not_new(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct path is taken for the prefix of all-new chunks only, and only inside the load's transaction."""
    from bolsync.warehouse.postgres_warehouse import PostgresWarehouse

    reset_postgres(postgres_database)
    landed: list[tuple[str, bool]] = []
    real = PostgresWarehouse.insert_new

    def spy(self: PostgresWarehouse, table: str, *args: Any) -> bool:
        landed.append((table, real(self, table, *args)))
        return landed[-1][1]

    monkeypatch.setattr(PostgresWarehouse, "insert_new", spy)
    details = [_detail("O1"), _detail("O2"), _detail("O1", "2026-11-20T12:00:00+01:00"), _detail("O3")]
    staging = _stage(tmp_path / "s", details, [])
    with connect_warehouse(postgres_database) as conn:
        result = load_staged_orders(conn, "1", staging, chunk=1)
        assert conn.raw.info.transaction_status == conn.raw.info.transaction_status.IDLE
    assert landed == [("bol.orders", True), ("bol.order_items", True)] * 2 + [
        ("bol.orders", False),
        ("bol.order_items", False),
    ]
    assert result.orders.inserted == 3
    assert result.items.inserted == 3 * len(_detail()["orderItems"])


def test_staged_latest_keeps_the_newest_row_per_key(database: WarehouseTarget) -> None:
    import pandas as pd

    def orders(ids: list[str], counts: list[int | None]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "retailer_id": pd.array(["1"] * len(ids), dtype="string"),
                "order_id": pd.array(ids, dtype="string"),
                "item_count": pd.array(counts, dtype="Int64"),
            }
        )

    key = ("retailer_id", "order_id")
    chunks = [orders(["A", "B", "C"], [3, 5, None]), orders([], []), orders(["B", "C"], [2, 1])]
    with connect_warehouse(database) as conn:
        with conn.staged_latest(iter(chunks), Table("bol.orders", key, "item_count")) as staged:
            assert staged is not None
            relation, columns = staged
            assert columns == ["retailer_id", "order_id", "item_count"]
            rows = conn.query(f"SELECT order_id, item_count FROM {relation} ORDER BY 1")
        # B: the larger version wins; C: a value beats null.
        assert rows == [("A", 3), ("B", 5), ("C", 1)]
        with conn.staged_latest(iter(chunks), Table("bol.orders", key)) as staged:
            assert staged is not None
            # No version: the later chunk wins.
            assert conn.query(f"SELECT order_id, item_count FROM {staged[0]} ORDER BY 1") == [
                ("A", 3),
                ("B", 2),
                ("C", 1),
            ]
        with conn.staged_latest(iter([orders([], [])]), Table("bol.orders", key)) as staged:
            assert staged is None


def test_duckdb_memory_limit_is_configurable_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__BOLSYNC__DUCKDB_MEMORY_LIMIT", "300MB")
    with connect_warehouse(tmp_path / "w.duckdb") as conn:
        assert conn.scalar("SELECT current_setting('memory_limit')") == "286.1 MiB"
    monkeypatch.setenv("AIRFLOW__BOLSYNC__DUCKDB_MEMORY_LIMIT", "plenty")
    with (
        pytest.raises(ValueError, match="duckdb_memory_limit = 'plenty' is not a DuckDB memory size"),
        connect_warehouse(tmp_path / "w.duckdb"),
    ):
        pass


def test_duckdb_rebuilds_the_merged_tables_without_a_key_index_and_keeps_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = migrations.migration_files
    monkeypatch.setattr(migrations, "migration_files", lambda backend="duckdb": bundled(backend)[:2])
    with connect_warehouse(tmp_path / "w.duckdb") as conn:  # a warehouse of the previous release
        load_staged_orders(conn, "1", _stage(tmp_path / "s", [_detail("O1")], []))
        before = (_table(conn, "orders"), _table(conn, "order_items"))
    monkeypatch.setattr(migrations, "migration_files", lambda backend="duckdb": bundled(backend)[:3])
    with connect_warehouse(tmp_path / "w.duckdb") as conn:
        assert (_table(conn, "orders"), _table(conn, "order_items")) == before
        keyed = conn.query(
            "SELECT table_name FROM duckdb_constraints() WHERE schema_name = 'bol' AND constraint_type = 'PRIMARY KEY'"
        )
        assert {row[0] for row in keyed} == {"sync_runs", "offer_snapshots", "offer_sync_state", "schema_migrations"}
        with pytest.raises(Exception, match="NOT NULL"):
            conn.execute("INSERT INTO bol.orders (retailer_id, order_id) VALUES ('1', 'O2')")
        load_staged_orders(conn, "1", tmp_path / "s")  # merged by key: no duplicate
        assert (_table(conn, "orders"), _table(conn, "order_items")) == before


def test_postgres_keeps_its_primary_keys(postgres_database: str) -> None:
    reset_postgres(postgres_database)
    with connect_warehouse(postgres_database) as conn:
        keyed = conn.query(
            "SELECT table_name FROM information_schema.table_constraints "
            "WHERE table_schema = 'bol' AND constraint_type = 'PRIMARY KEY'"
        )
    assert {"orders", "order_items", "offers"} <= {row[0] for row in keyed}


def test_a_duckdb_file_named_after_a_schema_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(BolConfigError, match=r"shadows bolsync's schema 'bol'.*rename it, e\.g\. to warehouse\.duckdb"),
        connect_warehouse(tmp_path / "bol.duckdb"),
    ):
        pass
    assert not (tmp_path / "bol.duckdb").exists()


def test_staging_works_under_a_temporary_folder_with_a_quote(
    database: WarehouseTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    quoted = tmp_path / "it's"
    quoted.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(quoted))
    staging = _stage(tmp_path / "s", [_detail("O1")], [_listed("O1", "O1-0", "2026-11-20T10:00:00+01:00")])
    with connect_warehouse(database) as conn:
        result = load_staged_orders(conn, "1", staging)
    assert result.orders.inserted == 1
    assert result.items.inserted >= 1


SETTINGS = "SELECT current_setting('threads'), current_setting('memory_limit')"


def _duckdb_loads(tmp_path: Path) -> list[tuple[Any, ...]]:
    """Three loads into one new DuckDB file (new orders, newer states of some, an older state): per load its
    counts and the tables after it; last, the connection's settings after them, and before them."""
    early, late = "2026-11-20T10:00:00+01:00", "2026-11-21T10:00:00+01:00"
    loads = [
        _stage(tmp_path / "a", [_detail(f"O{n}") for n in range(6)], [_listed("O1", "O1-0", early)]),
        _stage(
            tmp_path / "b",
            [_detail("O2", late), _detail("O7")],
            [_listed("O3", "O3-0", late, 1, "HANDLED"), _listed("O4", "O4-0", late, 1, "HANDLED")],
        ),
        _stage(tmp_path / "c", [], [_listed("O3", "O3-0", early, 0, "OPEN")]),
    ]
    states: list[tuple[Any, ...]] = []
    with connect_warehouse(tmp_path / "w.duckdb") as conn:
        before = conn.query(SETTINGS)
        for staging in loads:
            r = load_staged_orders(conn, "42", staging)
            counts = (r.orders.inserted, r.orders.updated, r.items.inserted, r.items.updated)
            states.append((counts, _table(conn, "orders"), _table(conn, "order_items")))
        states.append((conn.query(SETTINGS), before))
    return states


def test_duckdb_bounded_merges_leave_what_unbounded_ones_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's merges within a load copy the rows that change first, bounded in memory; the plain merge
    (``Warehouse.run_merges``) gives the same tables and counts."""
    from bolsync.warehouse.base import Warehouse
    from bolsync.warehouse.duckdb_warehouse import DuckDBWarehouse

    bounded = _duckdb_loads(tmp_path / "bounded")
    monkeypatch.setattr(DuckDBWarehouse, "run_merges", Warehouse.run_merges)
    assert _duckdb_loads(tmp_path / "unbounded") == bounded
    assert [state[0] for state in bounded[:3]] == [(6, 0, 12, 0), (1, 0, 2, 4), (0, 0, 0, 0)]
    settings_after, settings_before = bounded[3]
    assert settings_after == settings_before


def test_a_duckdb_merge_out_of_its_bounded_memory_runs_again_unbounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A real out-of-memory error in a bounded statement: the transaction is rolled back, the merges run again
    with the connection's limit, and the tables, counts and settings end as with room to spare."""
    from bolsync.warehouse import duckdb_warehouse

    roomy = _duckdb_loads(tmp_path / "roomy")
    monkeypatch.setattr(duckdb_warehouse, "BOUNDED_MEMORY", 256 * 1024)
    caplog.set_level(logging.WARNING, logger=duckdb_warehouse.__name__)
    assert _duckdb_loads(tmp_path / "tight") == roomy
    assert "The merge ran out of its bounded memory" in caplog.text
    assert "A staging statement ran out of its bounded memory" in caplog.text


def test_the_duckdb_bound_never_raises_a_lower_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__BOLSYNC__DUCKDB_MEMORY_LIMIT", "20MB")
    with connect_warehouse(tmp_path / "w.duckdb") as conn:
        bound = conn._bounded_settings()
        load_staged_orders(conn, "42", _stage(tmp_path / "s", [_detail("O1")], []))
        after = conn.query(SETTINGS)
    assert bound["threads"] == "1"
    assert 19 * 2**20 <= int(bound["memory_limit"].removesuffix("B")) <= 20_000_000
    assert after == [(2, "19.0 MiB")]
