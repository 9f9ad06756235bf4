"""The quarantine rule as a new stream uses it: its own check over ``runs.values``, a stream name, a record key,
the raw record and the reason; held once, listed, released when it lands (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bolsync.runs import values
from bolsync.runs.quarantine import InvalidRecord, Quarantine, Rejected, held_note, open_records, partition
from bolsync.warehouse.connection import connect_warehouse

NOW = datetime(2026, 11, 21, 3, tzinfo=UTC)
RETURNS = Quarantine("returns", "bol_shop", "42", "bol_returns_daily", "run_1", NOW, NOW)


def check_return(record: dict[str, Any]) -> None:
    """What a returns transform would do: its fields against its columns, naming the return."""
    checks: list[tuple[str, Any]] = [
        ("returnId", lambda v: values.code(v, required=True)),
        ("quantity", values.integer),
        ("registered", values.moment),
    ]
    for field, check in checks:
        try:
            check(record.get(field))
        except values.ValueProblem as problem:
            message = f"bol sent malformed return data: return {record.get('returnId')!r}: {field} {problem}"
            raise InvalidRecord(message, key=record.get("returnId"), field=field) from None


RECORDS = [
    {"returnId": "R1", "quantity": 1, "registered": "2026-11-20T10:00:00+01:00"},
    {"returnId": "R2", "quantity": 2**33, "registered": "2026-11-20T10:00:00+01:00"},
    {"returnId": "R3", "quantity": 1, "registered": "2026-11-20 10:00"},
    {"quantity": 1, "registered": "2026-11-20T10:00:00+01:00", "note": "no id at all"},
]


def test_a_new_stream_holds_what_it_cannot_store_once_and_releases_what_lands(warehouse) -> None:
    good, rejected = partition(RECORDS, check_return)
    assert [r["returnId"] for r in good] == ["R1"]
    assert [r.field for r in rejected] == ["quantity", "registered", "returnId"]
    assert rejected[2].key.startswith("unkeyed:")
    assert str(held_note(rejected)).startswith("3 record(s) held in bol.quarantine (the rest landed): ")
    with connect_warehouse(warehouse) as conn:
        assert RETURNS.settle(conn, rejected, ["R1"], NOW).held == 3
        assert RETURNS.settle(conn, rejected, ["R1"], NOW).held == 3  # a rerun: the same rows, no more
        assert conn.scalar("SELECT count(*) FROM bol.quarantine") == 3
        assert [r.key for r in open_records(conn, "returns", "bol_shop")][:2] == ["R2", "R3"]
        assert open_records(conn, "orders", "bol_shop") == []
        settled = RETURNS.settle(conn, [], ["R1", "R2"], NOW)
        assert (settled.held, settled.released) == (0, 1)
        assert RETURNS.open_keys(conn) == {"R3", rejected[2].key}


def test_a_record_refused_by_other_means_is_held_from_its_key_raw_record_and_reason(warehouse) -> None:
    refused = Rejected.of_record("S1", {"shipmentId": "S1", "weight": float("inf")}, "weight is not finite", "weight")
    assert refused.raw_json == '{"shipmentId":"S1","weight":Infinity}'
    shipments = Quarantine("shipments", "bol_shop", "42", "bol_shipments_daily", "run_1")
    with connect_warehouse(warehouse) as conn:
        shipments.hold(conn, [refused], NOW)
        rows = conn.query("SELECT stream, record_key, reason, raw_json, window_start FROM bol.quarantine")
    assert rows == [("shipments", "S1", "weight is not finite", '{"shipmentId":"S1","weight":Infinity}', None)]


@pytest.mark.parametrize("key", [None, "", "a\x00b", True, 1.5, {"id": 1}])
def test_a_key_that_cannot_be_stored_becomes_a_hash_of_the_record(key: Any) -> None:
    first = Rejected.of_record(key, {"id": key}, "why")
    assert first.key.startswith("unkeyed:")
    assert first.key == Rejected.of_record(key, {"id": key}, "why").key
    assert not first.keyed


def test_a_key_both_refused_and_landed_in_one_load_stays_held(warehouse) -> None:
    refused = Rejected.of_record("R9", {"returnId": "R9"}, "quantity is a string ('1'), not a whole number")
    with connect_warehouse(warehouse) as conn:
        RETURNS.settle(conn, [refused], [], NOW)
        assert RETURNS.settle(conn, [refused], ["R9"], NOW).released == 0
        assert RETURNS.open_keys(conn) == {"R9"}
