"""An alert the mail server could not take is sent by the next run that raises it, once, and bol.alerts keeps it:
a backfill asks for days older than bol's 3 months while the SMTP server is down, then again once it is up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.runs.windows import oldest_allowed_date
from bolsync_provider.budget.shared_state import shared_state
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection
from tests.support.smtp_sink import SmtpSink

ACCOUNT = "delivery_shop"
SHOP = AccountConfig("dl-client", "dl-secret", "7000001")
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
}


@pytest.fixture(scope="module")
def env(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    handle = start_emulator(EmulatorConfig(seed=3, accounts=[SHOP], orders_per_day=4, history_days=2, rate_scale=20.0))
    bol_connection(ACCOUNT, handle.base_url, SHOP.client_id, SHOP.client_secret, **FAST)
    warehouse = tmp_path_factory.mktemp("delivery") / "warehouse.duckdb"
    warehouse_connection(warehouse)
    try:
        yield {"warehouse": warehouse}
    finally:
        handle.stop()


def too_old_days() -> list[datetime]:
    first = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=130)
    return [first + timedelta(days=n) for n in range(3)]


def alert_key() -> str:
    return f"alert:window-too-old:bol_orders_daily:{oldest_allowed_date(datetime.now(UTC)).isoformat()}"


def too_old_mails(sink: SmtpSink) -> list[str]:
    return [text for text in sink.bodies() if "older than bol keeps" in text.splitlines()[0]]


def test_the_alert_the_mail_server_missed_is_sent_by_the_next_run_once(env: dict) -> None:
    shared_state().release_claim(alert_key())  # this worker's shared state may hold it from another module
    first, second, third = too_old_days()
    sink = SmtpSink()
    sink.use_as_alert_channel()  # the channel points at a server that is not running

    assert run_dag("bol_orders_daily", first, [ACCOUNT]) == "failed"
    undelivered = alert_rows(env["warehouse"])
    assert len(undelivered) == 1
    assert undelivered[0][1:6] == ("window_too_old", ACCOUNT, SHOP.retailer_id, "orders", 1)
    assert undelivered[0][6:8] == (0, None)  # not sent, no first_sent_at
    assert "Connection refused" in undelivered[0][8] or "ConnectionRefusedError" in undelivered[0][8]

    with sink:
        assert run_dag("bol_orders_daily", second, [ACCOUNT]) == "failed"
        assert run_dag("bol_orders_daily", third, [ACCOUNT]) == "failed"
        mails = too_old_mails(sink)
    assert len(mails) == 1  # the second run sent it, the third knew it was sent
    assert f"--from-date {oldest_allowed_date(datetime.now(UTC)).isoformat()}" in mails[0]
    assert "dl-secret" not in mails[0]

    (row,) = alert_rows(env["warehouse"])
    key, kind, conn_id, retailer, stream, attempts, sends, first_sent, last_error, cleared = row
    assert (key, kind, conn_id, retailer, stream) == (
        alert_key(),
        "window_too_old",
        ACCOUNT,
        SHOP.retailer_id,
        "orders",
    )
    assert (attempts, sends, last_error, cleared) == (2, 1, None, None)  # the duplicate was not an attempt
    assert first_sent is not None
    subject, dag_id = query(env["warehouse"], "SELECT subject, dag_id FROM bol.alerts")[0]
    assert subject.startswith("[bolsync] bol_orders_daily: a run asks for order history older than bol keeps")
    assert dag_id == "bol_orders_daily"


def alert_rows(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "SELECT alert_key, kind, conn_id, retailer_id, stream, attempts, sends, first_sent_at, last_error, cleared_at "
        "FROM bol.alerts ORDER BY alert_key",
    )
