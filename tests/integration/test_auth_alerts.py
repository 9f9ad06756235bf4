"""Auth failures alert once per DAG run and account, through a real SMTP server; other accounts sync on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync.runs.audit import record_sync_run
from bolsync.runs.windows import oldest_allowed_date
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.auth.authorize import exchange_code
from bolsync_provider.auth.cache import VariableRefreshTokenStore, refresh_variable_key
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection
from tests.support.smtp_sink import SmtpSink

ACCOUNTS = {
    "alert_shop_ok": AccountConfig("al-client-ok", "al-secret-ok", "3000001"),
    "alert_shop_revoked": AccountConfig("al-client-rev", "al-secret-rev", "3000002"),
    "alert_shop_inactive": AccountConfig("al-client-ina", "al-secret-ina", "3000003"),
    "alert_shop_partner": AccountConfig("al-client-par", "al-secret-par", "3000004"),
}
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
    "max_attempts": 3,
}


@pytest.fixture(scope="module")
def env(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    handle = start_emulator(
        EmulatorConfig(seed=5, accounts=list(ACCOUNTS.values()), orders_per_day=8, history_days=3, rate_scale=20.0)
    )
    for conn_id, account in ACCOUNTS.items():
        bol_connection(conn_id, handle.base_url, account.client_id, account.client_secret, **FAST)
    warehouse = tmp_path_factory.mktemp("alerts") / "warehouse.duckdb"
    warehouse_connection(warehouse)
    with SmtpSink() as sink:
        sink.use_as_alert_channel()
        yield {"url": handle.base_url, "sink": sink, "warehouse": warehouse}
    handle.stop()


def fault(env: dict, **body: object) -> None:
    requests.post(f"{env['url']}/_emulator/faults", json=body, timeout=10).raise_for_status()


def yesterday_run() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=1)


def test_revoked_credentials_alert_once_and_the_other_account_syncs(env: dict) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    fault(env, kind="revoke", client_id=ACCOUNTS["alert_shop_revoked"].client_id)
    logical = yesterday_run()
    state = run_dag("bol_orders_hourly", logical, ["alert_shop_ok", "alert_shop_revoked"])
    assert state == "failed"
    assert len(sink.messages) == 1
    text = sink.bodies()[0]
    assert "authentication failed for alert_shop_revoked" in text
    assert "invalid_client" in text
    assert "Seller Dashboard" in text
    assert "al-secret-rev" not in text
    loaded = query(
        env["warehouse"],
        "SELECT conn_id, task_id, status FROM bol.sync_runs WHERE task_id LIKE '%load' ORDER BY conn_id",
    )
    assert loaded == [("alert_shop_ok", "sync_account.load", "success")]
    failed = query(env["warehouse"], "SELECT task_id, try_number FROM bol.sync_runs WHERE status = 'failed'")
    assert failed == [("sync_account.check_auth", 1)]  # failed fast: one try, no retries, no extract

    # A new DAG run (dag.test makes a new run id) alerts again: one alert per run and account.
    run_dag("bol_orders_hourly", logical, ["alert_shop_ok", "alert_shop_revoked"])
    assert len(sink.messages) == 2
    assert "authentication failed for alert_shop_revoked" in sink.bodies()[1]


def test_inactive_account_alerts_with_what_bol_said(env: dict) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    fault(env, kind="inactive", client_id=ACCOUNTS["alert_shop_inactive"].client_id)
    assert run_dag("bol_orders_hourly", yesterday_run(), ["alert_shop_inactive"]) == "failed"
    assert len(sink.messages) == 1
    text = sink.bodies()[0]
    assert "Account is not active" in text
    assert "seller account" in text


def test_stale_account_alerts_once_per_episode(env: dict) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    old = datetime.now(UTC) - timedelta(hours=30)
    with connect_warehouse(env["warehouse"]) as conn:
        record_sync_run(
            conn,
            {
                "dag_id": "bol_orders_hourly",
                "run_id": "old",
                "task_id": "sync_account.load",
                "map_index": 0,
                "try_number": 1,
                "conn_id": "alert_shop_stale",
                "status": "success",
                "started_at": old,
                "finished_at": old,
            },
        )
    account = ACCOUNTS["alert_shop_ok"]
    bol_connection("alert_shop_stale", env["url"], account.client_id, account.client_secret, **FAST)
    fault(env, kind="server_error", status=503, count=100, path_prefix="/retailer")
    try:
        run_dag_once_without_retries("alert_shop_stale")
        stale = [t for t in sink.bodies() if "no successful sync of alert_shop_stale" in t]
        assert len(stale) == 1
        assert "30 hours" in stale[0] or "29 hours" in stale[0]
        sink.clear()
        run_dag_once_without_retries("alert_shop_stale")
        assert not [t for t in sink.bodies() if "no successful sync" in t]  # same episode: no repeat
    finally:
        requests.delete(f"{env['url']}/_emulator/faults", timeout=10)


def run_dag_once_without_retries(conn_id: str) -> None:
    """One try of each task: the transient 503s are not alerted (retries remain), staleness is."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.support.airflow_env import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["bol_orders_hourly"]
    for task in dag.tasks:
        task.retries = 0
    dag.test(logical_date=datetime.now(UTC) - timedelta(hours=2), run_conf={"accounts": [conn_id]})


def test_code_flow_syncs_with_rotating_refresh_tokens_then_alerts_when_revoked(env: dict) -> None:
    sink: SmtpSink = env["sink"]
    partner = ACCOUNTS["alert_shop_partner"]
    redirect = "https://partner.example/callback"
    code = requests.post(
        f"{env['url']}/_emulator/authorization-codes",
        json={"client_id": partner.client_id, "redirect_uri": redirect, "rotation": "rotating"},
        timeout=10,
    ).json()["code"]
    bol_connection(
        "alert_shop_partner",
        env["url"],
        partner.client_id,
        partner.client_secret,
        grant_type="authorization_code",
        **FAST,
    )
    store = VariableRefreshTokenStore()
    retailer = exchange_code(BolRetailerHook("alert_shop_partner").settings, code, redirect, store)
    assert retailer == partner.retailer_id
    first_refresh_token = store.load("alert_shop_partner")
    assert first_refresh_token

    assert run_dag("bol_orders_hourly", yesterday_run(), ["alert_shop_partner"]) == "success"
    rotated = store.load("alert_shop_partner")
    assert rotated
    assert rotated != first_refresh_token  # rotated on use and stored under the lock

    requests.delete(f"{env['url']}/_emulator/authorization-codes/{code}", timeout=10).raise_for_status()
    _expire_cached_access_token("alert_shop_partner")
    sent_before = len(sink.messages)
    assert run_dag("bol_orders_hourly", yesterday_run() - timedelta(hours=1), ["alert_shop_partner"]) == "failed"
    assert len(sink.messages) == sent_before + 1
    text = sink.bodies()[-1]
    assert "refresh token" in text
    assert "authorize" in text
    assert rotated not in text


def _expire_cached_access_token(conn_id: str) -> None:
    from bolsync_provider.auth.cache import variable_key
    from bolsync_provider.config import get_variable, set_variable

    set_variable(variable_key(conn_id), "", description="emptied by the test: the cached token expired")
    assert get_variable(refresh_variable_key(conn_id))


def test_revocation_mid_run_alerts_once_and_keeps_what_was_loaded_consistent(env: dict) -> None:
    """The credential is revoked while the run pages details: the next token refresh fails, one alert."""
    import threading

    sink: SmtpSink = env["sink"]
    sent_before = len(sink.messages)
    account = ACCOUNTS["alert_shop_ok"]
    bol_connection("alert_shop_midrun", env["url"], account.client_id, account.client_secret, **FAST)
    fault(env, kind="token_lifetime", seconds=3, client_id=account.client_id)
    fault(env, kind="slow", seconds=0.7, count=12, client_id=account.client_id, path_prefix="/retailer/orders/")

    def revoke_after_first_detail() -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            stats = requests.get(f"{env['url']}/_emulator/stats", timeout=10).json()
            if stats["requests"].get("GET /retailer/orders/{order-id}"):
                fault(env, kind="revoke", client_id=account.client_id)
                return
            time.sleep(0.1)

    revoker = threading.Thread(target=revoke_after_first_detail)
    requests.post(f"{env['url']}/_emulator/stats/reset", timeout=10).raise_for_status()
    revoker.start()
    try:
        day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
        state = run_dag("bol_orders_daily", day + timedelta(days=1), ["alert_shop_midrun"])
    finally:
        revoker.join()
        requests.delete(f"{env['url']}/_emulator/faults", timeout=10)
    assert state == "failed"
    new = sink.bodies()[sent_before:]
    assert len(new) == 1, new
    assert "authentication failed for alert_shop_midrun" in new[0]
    assert "invalid_client" in new[0]
    failed = query(
        env["warehouse"],
        "SELECT task_id, count(*) FROM bol.sync_runs WHERE conn_id = 'alert_shop_midrun' AND status = 'failed' "
        "GROUP BY 1",
    )
    assert failed == [("sync_account.extract", 1)]  # failed fast mid-extract: one try, nothing loaded half


def test_a_backfill_older_than_bols_history_alerts_once_as_an_input_error(env: dict) -> None:
    """Two too-old days of two accounts: four failed extracts, one alert that names the retailer, the first
    date bol still serves and how to start the backfill there (not "clear the task")."""
    sink: SmtpSink = env["sink"]
    sink.clear()
    too_old = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=130)
    for day in (too_old, too_old + timedelta(days=1)):
        assert run_dag("bol_orders_daily", day, ["alert_shop_ok", "alert_shop_partner"]) == "failed"
    # Other mails (the staleness alert of an account earlier tests left stale) are not this test's business.
    failures = [(m, b) for m, b in zip(sink.messages, sink.bodies(), strict=True) if "older than bol" in m["Subject"]]
    assert len(failures) == 1
    assert not [m for m in sink.messages if "failed after" in m["Subject"]]  # no per-run "sync failed" alerts
    text = failures[0][1]
    first_served = oldest_allowed_date(datetime.now(UTC)).isoformat()
    assert "Retailer: 3000001" in text or "Retailer: 3000004" in text
    assert "This is an input error" in text
    assert f"--from-date {first_served}" in text
    assert f"Trigger > Backfill with From = {first_served}" in text
    assert "clear the task" not in text
    failed = query(
        env["warehouse"],
        "SELECT DISTINCT task_id, try_number, retailer_id IS NOT NULL FROM bol.sync_runs "
        "WHERE status = 'failed' AND dag_id = 'bol_orders_daily' AND error LIKE '%BolWindowTooOld%'",
    )
    assert failed == [("sync_account.extract", 1, True)]  # fails fast, names the retailer, no retries
