"""The PostgreSQL landing path: CSV slices streamed into ``COPY``, and the bulk merge (plain insert of new keys,
then ``ON CONFLICT`` for the rows that change) with its fallback when another writer gets in the way."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
import pytest

import bolsync.warehouse.pg_arrow as pg_arrow
import bolsync.warehouse.postgres_warehouse as pg_warehouse
from bolsync.warehouse.connection import PostgresWarehouse, connect_warehouse

TABLE = "merge_test.items"
KEY = ["retailer_id", "item_id"]
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def url(postgres_database: str) -> str:
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute("DROP SCHEMA IF EXISTS merge_test CASCADE")
        admin.execute("CREATE SCHEMA merge_test")
        admin.execute(
            f"""CREATE TABLE {TABLE} (retailer_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL, version TIMESTAMPTZ
                NOT NULL, quantity INTEGER, note VARCHAR, price DECIMAL(12, 2), first_synced_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (retailer_id, item_id))"""
        )
    return postgres_database


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every merge takes the bulk path (normally from ``BULK_ROWS`` rows on), new keys too (no ``insert_new``)."""
    monkeypatch.setattr(PostgresWarehouse, "BULK_ROWS", 1)
    monkeypatch.setattr(PostgresWarehouse, "insert_new", lambda self, *args: False)


def _frame(ids: range, hours: int = 0, quantity: int = 1, note: str | None = "a") -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "retailer_id": pd.array([f"r{i % 2}" for i in ids], dtype="string"),
            "item_id": pd.array([f"I{i:06d}" for i in ids], dtype="string"),
            "version": pd.Series([T0 + timedelta(hours=hours)] * n).astype("datetime64[us, UTC]"),
            "quantity": pd.array([quantity] * n, dtype="Int64"),
            "note": pd.array([note] * n, dtype="string"),
            "price": pd.array([1.25 + i for i in ids], dtype="Float64"),
        }
    )


def _merge(conn: Any, frame: pd.DataFrame) -> tuple[int, int]:
    return conn.merge(TABLE, frame, KEY, version="version", inserted_only={"first_synced_at": "now()"})


def _rows(url: str) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT item_id, version, quantity, note, price FROM {TABLE}").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.parametrize(
    "sample",
    [(100, 100, 0), (100, 0, 100), (100, 0, 0)],
    ids=["plain-insert-first", "on-conflict-skipping-unchanged-rows", "on-conflict-over-every-row"],
)
def test_bulk_merge_counts_and_rows(
    url: str, bulk: None, sample: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PostgresWarehouse, "_sample", lambda self, *args: sample)
    with connect_warehouse(url) as conn:
        with conn.transaction():
            assert _merge(conn, _frame(range(40))) == (40, 0)
        with conn.transaction():
            assert _merge(conn, _frame(range(40))) == (0, 0)
        mixed = pd.concat(
            [
                _frame(range(0, 10), hours=1, quantity=2),  # newer and changed: updated
                _frame(range(10, 20), hours=-1, quantity=3),  # older: left alone
                _frame(range(20, 40)),  # unchanged
                _frame(range(40, 55), quantity=4),  # new
            ],
            ignore_index=True,
        )
        with conn.transaction():
            assert _merge(conn, mixed) == (15, 10)
    rows = _rows(url)
    assert len(rows) == 55
    assert rows["I000003"] == (T0 + timedelta(hours=1), 2, "a", Decimal("4.25"))
    assert rows["I000013"] == (T0, 1, "a", Decimal("14.25"))
    assert rows["I000047"] == (T0, 4, "a", Decimal("48.25"))


def test_bulk_merge_outside_a_transaction_commits_once(url: str, bulk: None) -> None:
    with connect_warehouse(url) as conn:
        assert _merge(conn, _frame(range(30))) == (30, 0)
        assert conn.raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert _merge(conn, _frame(range(10, 50), hours=1)) == (20, 20)
    assert len(_rows(url)) == 50


def _settings_during_merges(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    during, sample = [], PostgresWarehouse._sample

    def spy(self: PostgresWarehouse, *args: Any) -> tuple[int, int, int]:
        settings = "SELECT current_setting('work_mem'), current_setting('enable_hashjoin'), current_setting('jit')"
        during.append(tuple(self.query(settings)[0]))
        return sample(self, *args)

    monkeypatch.setattr(PostgresWarehouse, "_sample", spy)
    return during


def test_work_mem_is_raised_for_the_merge_only(url: str, bulk: None, monkeypatch: pytest.MonkeyPatch) -> None:
    during = _settings_during_merges(monkeypatch)
    with connect_warehouse(url) as conn, conn.transaction():
        settings = "SELECT current_setting('work_mem'), current_setting('enable_hashjoin'), current_setting('jit')"
        before = conn.query(settings)
        _merge(conn, _frame(range(5)))
        assert conn.query(settings) == before
    assert during == [(PostgresWarehouse.MERGE_WORK_MEM, "on", "off")]


def test_a_relation_much_smaller_than_the_table_probes_the_key_index(
    url: str, bulk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect_warehouse(url) as conn:
        _merge(conn, _frame(range(3000)))
        during = _settings_during_merges(monkeypatch)
        assert _merge(conn, _frame(range(2990, 3010), hours=1)) == (10, 10)
        work_mem = conn.scalar("SELECT current_setting('work_mem')")
    assert during == [(work_mem, "off", "off")]


@pytest.mark.parametrize("path", ["bulk-merge", "insert-new"])
def test_a_concurrent_insert_of_the_same_key_falls_back_to_on_conflict(
    url: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction holds a new key uncommitted, which no probe sees: the plain insert of the bulk merge
    (or the direct ``COPY`` of ``insert_new``) waits for it, meets the unique violation once it commits, and
    the merge redoes everything with ``ON CONFLICT`` (the newer row wins)."""
    if path == "bulk-merge":
        monkeypatch.setattr(PostgresWarehouse, "BULK_ROWS", 1)
        monkeypatch.setattr(PostgresWarehouse, "insert_new", lambda self, *args: False)
    with psycopg.connect(url) as other:
        other.execute(
            f"INSERT INTO {TABLE} (retailer_id, item_id, version, quantity, note, price, first_synced_at) "
            "VALUES ('r1', 'I000007', %s, 9, 'other', 0, now())",
            [T0 - timedelta(hours=1)],
        )
        result: list[Any] = []
        with connect_warehouse(url) as conn:
            pid = conn.raw.info.backend_pid

            def merge() -> None:
                try:
                    with conn.transaction():
                        result.append(_merge(conn, _frame(range(20))))
                except Exception as error:  # reported by the assertion below
                    result.append(error)

            worker = threading.Thread(target=merge)
            worker.start()
            _wait_for_lock(other, pid)
            other.commit()
            worker.join(timeout=60)
    assert result == [(19, 1)]
    rows = _rows(url)
    assert len(rows) == 20
    assert rows["I000007"] == (T0, 1, "a", Decimal("8.25"))


def _wait_for_lock(conn: psycopg.Connection[Any], pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
        if waiting and waiting[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError("the merge never waited for the other transaction")


def test_duplicate_keys_in_the_relation_still_fail(url: str, bulk: None) -> None:
    frame = pd.concat([_frame(range(3)), _frame(range(2, 3), hours=1)], ignore_index=True)
    with connect_warehouse(url) as conn, pytest.raises(psycopg.errors.CardinalityViolation):
        _merge(conn, frame)
    assert _rows(url) == {}


def test_merge_relation_samples_a_view_and_counts_an_unknown_relation(
    url: str, bulk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PostgresWarehouse, "SAMPLE_ROWS", 5)
    with connect_warehouse(url) as conn:
        assert _merge(conn, _frame(range(10))) == (10, 0)
        with conn.staged(_frame(range(0, 40), hours=2), TABLE) as incoming:
            conn.execute(f"CREATE TEMP VIEW incoming_view AS SELECT * FROM {incoming}")
            counts = conn.merge_relation(
                TABLE,
                "incoming_view",
                list(_frame(range(1)).columns),
                KEY,
                version="version",
                inserted_only={"first_synced_at": "now()"},
            )
            conn.execute("DROP VIEW incoming_view")
    assert counts == (30, 10)
    assert {row[0] for row in _rows(url).values()} == {T0 + timedelta(hours=2)}


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of 7 rows read 64 bytes at a time: a small frame crosses every boundary."""
    monkeypatch.setattr(pg_warehouse, "COPY_SLICE_ROWS", 7)
    monkeypatch.setattr(pg_warehouse, "COPY_CHUNK", 64)


@pytest.fixture(params=["binary", "csv"])
def copy_format(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Frames go in by binary ``COPY`` (every column encodable) or by CSV (one that is not)."""
    if request.param == "csv":
        monkeypatch.setattr(pg_warehouse, "binary_encoder", lambda frame, types: None)
    return str(request.param)


def test_staged_streams_every_slice_sorted_by_the_primary_key(url: str, small_slices: None, copy_format: str) -> None:
    notes = ["plain", "", None, 'with "quotes", commas', "new\nline", "ünïcode €", "back\\slash", "tab\there"]
    frame = _frame(range(53)).assign(note=pd.array([notes[i % len(notes)] for i in range(53)], dtype="string"))
    frame.loc[5, "quantity"] = pd.NA
    frame.loc[6, "price"] = pd.NA
    shuffled = frame.sample(frac=1, random_state=3)
    with connect_warehouse(url) as conn, conn.staged(shuffled, TABLE) as incoming:
        stored = conn.query(f"SELECT item_id, version, quantity, note, price FROM {incoming} ORDER BY item_id")
        in_table_order = conn.query(f"SELECT retailer_id, item_id FROM {incoming}")  # no ORDER BY
    assert in_table_order == sorted(zip(frame.retailer_id, frame.item_id, strict=True))  # in primary key order
    expected = [
        (
            row.item_id,
            row.version.to_pydatetime(),
            None if pd.isna(row.quantity) else row.quantity,
            None if pd.isna(row.note) else row.note,
            None if pd.isna(row.price) else Decimal(str(row.price)),
        )
        for row in frame.itertuples()
    ]
    assert stored == expected


def test_an_encoding_failure_fails_the_copy_and_leaves_the_connection_usable(
    url: str, small_slices: None, monkeypatch: pytest.MonkeyPatch, copy_format: str
) -> None:
    calls: list[int] = []

    def failing(encode: Any) -> Any:
        def third_fails(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("encoder failed")
            return encode(*args)

        return third_fails

    if copy_format == "csv":
        monkeypatch.setattr(pg_warehouse, "_write_csv", failing(pg_warehouse._write_csv))
    else:
        real = pg_warehouse.binary_encoder
        monkeypatch.setattr(pg_warehouse, "binary_encoder", lambda frame, types: failing(real(frame, types)))
    with connect_warehouse(url) as conn:
        with pytest.raises(RuntimeError, match="encoder failed"), conn.staged(_frame(range(30)), TABLE):
            pass
        temp = "SELECT count(*) FROM pg_class WHERE relname LIKE 'incoming_%' AND relpersistence = 't'"
        assert conn.scalar(temp) == 0
        assert _merge(conn, _frame(range(3))) == (3, 0)


def _staged_rows(conn: Any, frame: pd.DataFrame, like: str) -> list[tuple[Any, ...]]:
    with conn.staged(frame, like) as incoming:
        return conn.query(f"SELECT * FROM {incoming}")


def test_binary_copy_stores_what_csv_stores(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            """CREATE TABLE merge_test.kinds (k VARCHAR NOT NULL PRIMARY KEY, n INTEGER, big BIGINT, flag BOOLEAN,
               at TIMESTAMPTZ, day DATE, price DECIMAL(12, 2), ratio DOUBLE PRECISION, doc JSON)"""
        )
    frame = pd.DataFrame(
        {
            "k": pd.array(["a", "", "ünïcode €", 'q"u,o\nte', "x" * 300, "日本"], dtype="string"),
            "n": pd.array([1, None, -(2**31), 2**31 - 1, 0, 7], dtype="Int64"),
            "big": pd.array([2**40, None, -1, 0, 5, 6], dtype="Int64"),
            "flag": pd.array([True, None, False, True, False, True], dtype="boolean"),
            "at": pd.Series([T0, None, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), T0, T0, T0]).astype(
                "datetime64[us, UTC]"
            ),
            "day": pd.Series(["2026-11-22 23:30", None, "1970-01-01", "1999-12-31", "2000-01-01", "2026-01-01"]).astype(
                "datetime64[us]"
            ),
            "price": pd.array([0.125, None, -1.005, 0.285, -0.001, 12345678.99], dtype="Float64"),
            "ratio": pd.array([0.1, None, -2.5, 1e300, 0.0, 3.0], dtype="Float64"),
            "doc": pd.array(['{"a": [1, "ü"]}', None, "{}", "[]", "null", "1"], dtype="string"),
        }
    )
    with connect_warehouse(url) as conn:
        assert isinstance(conn, PostgresWarehouse)
        assert pg_arrow.binary_encoder(frame, conn._column_types("merge_test.kinds")) is not None
        binary = _staged_rows(conn, frame, "merge_test.kinds")
        monkeypatch.setattr(pg_warehouse, "binary_encoder", lambda frame, types: None)
        csv = _staged_rows(conn, frame, "merge_test.kinds")
    assert binary == csv
    prices = {row[0]: row[6] for row in binary}
    assert [prices[k] for k in frame.k] == [
        Decimal("0.13"),
        None,
        Decimal("-1.01"),
        Decimal("0.29"),
        Decimal("0.00"),
        Decimal("12345678.99"),
    ]


def test_binary_copy_is_not_used_for_what_it_cannot_encode_exactly() -> None:
    frame = pd.DataFrame({"n": pd.array([2**31], dtype="Int64"), "o": pd.Series([object()], dtype=object)})
    assert pg_arrow.binary_encoder(frame[["n"]], [("int4", -1)]) is None
    assert pg_arrow.binary_encoder(frame[["n"]], [("int8", -1)]) is not None
    assert pg_arrow.binary_encoder(frame[["o"]], [("varchar", -1)]) is None
    assert pg_arrow.binary_encoder(frame[["n"]], [("numeric", -1)]) is None
    floats = pd.DataFrame({"x": pd.array([float("inf")], dtype="float64")})
    assert pg_arrow.binary_encoder(floats, [("numeric", (12 << 16) + 2 + 4)]) is None


def test_a_nul_in_text_is_refused_by_postgresql(url: str) -> None:
    frame = _frame(range(3)).assign(note=pd.array(["a", "b\x00c", "d"], dtype="string"))
    with connect_warehouse(url) as conn:
        with pytest.raises(psycopg.DataError):
            _staged_rows(conn, frame, TABLE)
        assert _merge(conn, _frame(range(3))) == (3, 0)


def test_an_empty_frame_stages_as_an_empty_relation(url: str) -> None:
    with connect_warehouse(url) as conn, conn.staged(_frame(range(0)), TABLE) as incoming:
        assert conn.scalar(f"SELECT count(*) FROM {incoming}") == 0


def test_text_columns_of_one_value_or_none_store_what_csv_stores(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(range(5))
    cases = {"same": ["ü €"] * 5, "empty": [""] * 5, "none": [None] * 5, "same-but-one-missing": ["x"] * 4 + [None]}
    with connect_warehouse(url) as conn:
        stored = {}
        for name, notes in cases.items():
            case = frame.assign(note=pd.array(notes, dtype="string"))
            binary = _staged_rows(conn, case, TABLE)
            with monkeypatch.context() as csv_only:
                csv_only.setattr(pg_warehouse, "binary_encoder", lambda frame, types: None)
                assert _staged_rows(conn, case, TABLE) == binary
            stored[name] = {row[1]: row[4] for row in binary}
    assert stored == {name: dict(zip(frame.item_id, notes, strict=True)) for name, notes in cases.items()}
