"""Coverage and gaps end to end: real daily runs record bol.sync_coverage; a lost run's window is alerted once
through a real SMTP server, naming exactly that range and the backfill that fills it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.runs.gaps import amsterdam_midnight
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import connect_warehouse
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

ACCOUNT = "cov_shop"
SHOP = AccountConfig("cov-client", "cov-secret", "6000001")


def daily_run_for(day: date) -> datetime:
    """A logical date whose inferred data interval is the Amsterdam day ``day``."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM) + timedelta(hours=12)


@pytest.fixture(scope="module")
def env(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    handle = start_emulator(EmulatorConfig(seed=9, accounts=[SHOP], orders_per_day=10, history_days=6, rate_scale=20.0))
    bol_connection(
        ACCOUNT,
        handle.base_url,
        SHOP.client_id,
        SHOP.client_secret,
        rate_limit_per_second=200,
        endpoint_rate_limits={"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
    )
    warehouse = tmp_path_factory.mktemp("coverage") / "warehouse.duckdb"
    warehouse_connection(warehouse)
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    days = [today - timedelta(days=n) for n in range(4, 0, -1)]
    for day in days:
        assert run_dag("bol_orders_daily", daily_run_for(day), [ACCOUNT]) == "success"
    with SmtpSink() as sink:
        sink.use_as_alert_channel()
        yield {"sink": sink, "warehouse": warehouse, "days": days}
    handle.stop()


def coverage_mails(sink: SmtpSink) -> list[str]:
    return [text for text in sink.bodies() if f"of {ACCOUNT}:" in text.splitlines()[0]]


def test_every_successful_load_records_its_window(env: dict) -> None:
    rows = query(
        env["warehouse"],
        "SELECT stream, conn_id, retailer_id, window_start, window_end, dag_id FROM bol.sync_coverage "
        "WHERE conn_id = ? ORDER BY window_start",
        [ACCOUNT],
    )
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [("orders", ACCOUNT, SHOP.retailer_id, "bol_orders_daily")] * 4
    starts = [r[3].astimezone(AMSTERDAM).date() for r in rows]
    assert starts == env["days"]
    assert all(r[4] - r[3] in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)) for r in rows)


def test_a_lost_run_is_alerted_once_with_the_backfill_that_fills_it(env: dict) -> None:
    sink: SmtpSink = env["sink"]
    missing = env["days"][1]
    with connect_warehouse(env["warehouse"]) as conn:
        conn.execute(
            "DELETE FROM bol.sync_coverage WHERE conn_id = ? AND window_start = ?",
            [ACCOUNT, amsterdam_midnight(missing)],
        )
    sink.clear()
    assert run_dag("bol_coverage_check", datetime.now(UTC), [ACCOUNT]) == "success"
    mails = coverage_mails(sink)
    assert len(mails) == 1
    text = mails[0]
    assert f"orders of {ACCOUNT}: 1 hole(s)" in text
    assert f"orders of {ACCOUNT}, {missing} (Europe/Amsterdam" in text
    start = amsterdam_midnight(missing).isoformat()
    assert f"--from-date {start} --to-date {start}" in text
    assert "bol_orders_daily > Trigger > Backfill" in text
    assert "API calls" in text
    assert text.count("BACKFILL:") == 1
    assert "LOST" not in text
    assert "cov-secret" not in text

    sink.clear()
    assert run_dag("bol_coverage_check", datetime.now(UTC), [ACCOUNT]) == "success"
    assert coverage_mails(sink) == []


def test_a_filled_hole_is_forgotten(env: dict) -> None:
    missing = env["days"][1]
    assert run_dag("bol_orders_daily", daily_run_for(missing), [ACCOUNT]) == "success"
    assert run_dag("bol_coverage_check", datetime.now(UTC), [ACCOUNT]) == "success"
    assert query(env["warehouse"], "SELECT count(*) FROM bol.coverage_alerts WHERE conn_id = ?", [ACCOUNT]) == [(0,)]
