"""The status page's summary builders against a real warehouse (DuckDB and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bolsync.runs.gaps import amsterdam_midnight
from bolsync.ui.summary import build_summary
from bolsync.warehouse.base import Warehouse
from bolsync.warehouse.connection import connect_warehouse

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)
SHOP = "bol_shop"


def day(d: int) -> datetime:
    return amsterdam_midnight(date(2026, 11, d)).astimezone(UTC)


def cover(conn: Warehouse, stream: str, days: list[int], held: dict[int, int] | None = None) -> None:
    for d in days:
        conn.execute(
            "INSERT INTO bol.sync_coverage (stream, conn_id, retailer_id, window_start, window_end, dag_id, run_id, "
            "synced_at, quarantined) VALUES (?, ?, '1234567', ?, ?, 'd', ?, ?, ?)",
            [stream, SHOP, day(d), day(d) + timedelta(days=1), f"r{d}", NOW, (held or {}).get(d, 0)],
        )


def run(conn: Warehouse, n: int, started: datetime, calls: int, throttled: int, tokens: int, waited: float) -> None:
    conn.execute(
        "INSERT INTO bol.sync_runs (dag_id, run_id, task_id, map_index, try_number, conn_id, retailer_id, stream, "
        "api_calls, throttled, token_requests, rate_wait_seconds, status, error, started_at, finished_at) "
        "VALUES ('bol_orders_daily', ?, 'sync', 0, 1, ?, '1234567', 'orders', ?, ?, ?, ?, ?, ?, ?, ?)",
        [f"run{n}", SHOP, calls, throttled, tokens, waited, "failed" if throttled else "success",
         "boom" if throttled else None, started, started + timedelta(minutes=2)],
    )  # fmt: skip


def alert(conn: Warehouse, key: str, kind: str, at: datetime, cleared: datetime | None = None) -> None:
    conn.execute(
        "INSERT INTO bol.alerts (alert_key, kind, conn_id, stream, subject, body, first_attempt_at, last_attempt_at, "
        "attempts, sends, cleared_at) VALUES (?, ?, ?, 'orders', ?, 'body', ?, ?, 1, 1, ?)",
        [key, kind, SHOP, f"[bolsync] {kind} alert", at, at, cleared],
    )


def test_the_summary_of_an_account_shows_its_calendar_holes_runs_metrics_and_alerts(warehouse) -> None:
    with connect_warehouse(warehouse) as conn:
        cover(conn, "orders", [d for d in range(10, 30) if d not in (20, 21)], held={25: 2})
        cover(conn, "offers", [25, 26, 28, 29])
        run(conn, 1, datetime(2026, 11, 28, 23, 30, tzinfo=UTC), 40, 0, 1, 1.5)  # 29 Nov in Amsterdam
        run(conn, 2, datetime(2026, 11, 29, 9, tzinfo=UTC), 60, 3, 0, 12.25)
        run(conn, 3, datetime(2026, 11, 28, 9, tzinfo=UTC), 7, 0, 1, 0.0)
        alert(conn, "cov", "coverage", NOW - timedelta(hours=1))
        alert(conn, "gone", "sync_failed", NOW - timedelta(days=2), cleared=NOW - timedelta(days=1))
        alert(conn, "auth", "auth", NOW - timedelta(days=3), cleared=NOW - timedelta(days=2))
        summary = build_summary(conn, NOW, configured=["bol_other"])

    assert summary["days"][-1] == "2026-11-30"
    assert len(summary["days"]) == 100
    other, shop = summary["accounts"]
    assert other["conn_id"] == "bol_other"
    assert other["runs"] == []
    assert other["retailer_id"] is None
    assert all(set(s["states"]) == {"none"} for s in other["streams"])
    assert shop["conn_id"] == SHOP
    assert shop["retailer_id"] == "1234567"

    streams = {s["stream"]: s for s in shop["streams"]}
    orders = dict(zip(summary["days"], streams["orders"]["states"], strict=True))
    assert orders["2026-11-09"] == "none"
    assert orders["2026-11-10"] == "synced"
    assert orders["2026-11-20"] == orders["2026-11-21"] == "hole"
    assert orders["2026-11-25"] == "partial"
    assert orders["2026-11-29"] == "synced"
    assert orders["2026-11-30"] == "none"
    (hole,) = streams["orders"]["holes"]
    assert (hole["kind"], hole["first_day"], hole["last_day"], hole["dag_id"]) == (
        "backfill", "2026-11-20", "2026-11-21", "bol_orders_daily",
    )  # fmt: skip
    assert hole["command"] == (
        "airflow backfill create --dag-id bol_orders_daily --from-date 2026-11-20T00:00:00+01:00 "
        '--to-date 2026-11-21T00:00:00+01:00 --dag-run-conf \'{"accounts": ["bol_shop"]}\''
    )
    assert hole["conf"] == {"accounts": [SHOP]}
    assert hole["planner"] == "python -m bolsync.planner --account bol_shop --from 2026-11-20 --to 2026-11-21"
    assert any("python -m bolsync.planner --account bol_shop --from 2026-11-20 --to 2026-11-21" in line
               for line in hole["estimate"])  # fmt: skip
    offers = dict(zip(summary["days"], streams["offers"]["states"], strict=True))
    assert offers["2026-11-27"] == "lost"
    assert offers["2026-11-28"] == "synced"
    assert [(h["kind"], h["first_day"], "command" in h) for h in streams["offers"]["holes"]] == [
        ("lost", "2026-11-27", False)
    ]
    assert streams["offers"]["holes"][0]["why"] == (
        "bol keeps no history of the offers and their daily snapshots: a past day cannot be recreated"
    )

    assert [r["run_id"] for r in shop["runs"]] == ["run2", "run1", "run3"]
    assert shop["runs"][0]["status"] == "failed"
    assert shop["runs"][0]["error"] == "boom"
    metrics = {m["day"]: m for m in shop["metrics"]}
    assert len(shop["metrics"]) == 30
    assert shop["metrics"][-1]["day"] == "2026-11-30"
    assert metrics["2026-11-29"] == {
        "day": "2026-11-29", "api_calls": 100, "throttled": 3, "token_requests": 1, "rate_wait_seconds": 13.8,
    }  # fmt: skip
    assert metrics["2026-11-28"]["api_calls"] == 7
    assert metrics["2026-11-27"]["api_calls"] == 0

    assert [a["kind"] for a in shop["alerts"]] == ["coverage"]
    assert shop["last_auth_failure"]["subject"] == "[bolsync] auth alert"
    assert shop["last_auth_failure"]["cleared_at"] is not None
