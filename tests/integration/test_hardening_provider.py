"""The provider's hardening seen from a DAG run: an odd token answer or a missing connection fails at once,
clearly, and no token reaches bol.sync_runs, the alert mail or the token cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bol_emulator import AccountConfig, EmulatorConfig, start_emulator
from bolsync_provider.auth.cache import variable_key
from bolsync_provider.budget import shared_state as shared_state_module
from bolsync_provider.config import get_variable
from tests.support.airflow_env import bol_connection, query, run_dag, warehouse_connection
from tests.support.smtp_sink import SmtpSink

ACCOUNT = ("hard_shop", AccountConfig("hard-client", "hard-secret-value", "6000001"))
FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
    "max_attempts": 3,
}


@pytest.fixture(scope="module")
def env(airflow_db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    handle = start_emulator(
        EmulatorConfig(seed=9, accounts=[ACCOUNT[1]], orders_per_day=6, history_days=2, rate_scale=20.0)
    )
    conn_id, account = ACCOUNT
    bol_connection(conn_id, handle.base_url, account.client_id, account.client_secret, **FAST)
    warehouse = tmp_path_factory.mktemp("hardening") / "warehouse.duckdb"
    warehouse_connection(warehouse)
    with SmtpSink() as sink:
        sink.use_as_alert_channel()
        yield {"url": handle.base_url, "token_url": handle.token_url, "sink": sink, "warehouse": warehouse}
    handle.stop()


def _run_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def _failed_rows(env: dict, conn_id: str) -> list[tuple]:
    return query(
        env["warehouse"],
        "SELECT task_id, try_number, error FROM bol.sync_runs WHERE conn_id = ? AND status = 'failed'",
        [conn_id],
    )


def test_an_odd_token_answer_fails_once_clearly_leaks_nowhere_and_is_not_cached(env: dict) -> None:
    conn_id, account = ACCOUNT
    sink: SmtpSink = env["sink"]
    sink.clear()
    real = requests.post(
        env["token_url"],
        data={"grant_type": "client_credentials"},
        auth=(account.client_id, account.client_secret),
        timeout=10,
    ).json()["access_token"]
    odd = f'{{"access_token": "{real}\\n", "token_type": "Bearer", "expires_in": 299, "scope": "RETAILER"}}'
    requests.post(
        f"{env['url']}/_emulator/faults",
        json={"kind": "respond", "path_prefix": "/token", "headers": {"Content-Type": "application/json"}, "body": odd},
        timeout=10,
    ).raise_for_status()

    assert run_dag("bol_orders_hourly", _run_hour(), [conn_id]) == "failed"
    (row,) = _failed_rows(env, conn_id)
    assert row[:2] == ("sync_account.check_auth", 1)  # fatal: one try, no retries
    assert "BolLoginError" in row[2]
    assert "not a JWT (it has leading or trailing whitespace or a line break)" in row[2]
    assert "retailer_id" not in row[2]  # it does not blame a missing retailer id
    assert len(sink.messages) == 1
    for text in (row[2], *sink.bodies()):
        assert real not in text
        assert account.client_secret not in text
    assert real not in (get_variable(variable_key(conn_id)) or "")

    # The answer was not cached: the next run fetches a proper token and syncs.
    assert run_dag("bol_orders_hourly", _run_hour() + timedelta(hours=1), [conn_id]) == "success"


def test_an_unknown_connection_fails_at_once_and_says_how_to_create_it(env: dict) -> None:
    conn_id = "hard_shop_missing"
    assert run_dag("bol_orders_hourly", _run_hour(), [conn_id]) == "failed"
    (row,) = _failed_rows(env, conn_id)
    assert row[:2] == ("sync_account.check_auth", 1)  # not retried for ~14 minutes
    assert "BolConfigError" in row[2]
    assert f"connection '{conn_id}' does not exist" in row[2]
    assert f"airflow connections add {conn_id} --conn-type bol_retailer" in row[2]


def test_a_celery_deployment_without_a_shared_state_url_fails_its_first_task_naming_the_setting(
    env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DAGs import and the run starts (no check at import); the first task that needs the rate budget or
    the token lease fails, at once, saying what to set. Stating a single host lets the same deployment run."""
    conn_id = "hard_shop_celery"
    _, account = ACCOUNT
    bol_connection(conn_id, env["url"], account.client_id, account.client_secret, **FAST)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.delenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", raising=False)
    monkeypatch.setattr(shared_state_module, "_states", {})  # a fresh worker process
    requests.post(f"{env['url']}/_emulator/stats/reset", timeout=10).raise_for_status()

    assert run_dag("bol_orders_hourly", _run_hour(), [conn_id]) == "failed"
    (row,) = _failed_rows(env, conn_id)
    assert row[:2] == ("sync_account.check_auth", 1)  # fatal: one try, no retries
    assert "BolConfigError" in row[2]
    assert "[bolsync] shared_state_url is not set" in row[2]
    assert "tasks run on several hosts: [core] executor = 'CeleryExecutor'" in row[2]
    assert "AIRFLOW__BOLSYNC__SHARED_STATE_URL" in row[2]
    assert "[bolsync] single_host = true" in row[2]
    stats = requests.get(f"{env['url']}/_emulator/stats", timeout=10).json()
    assert stats["token_requests"].get(account.client_id, 0) == 0  # nothing reached bol
    assert not stats["requests"]

    monkeypatch.setenv("AIRFLOW__BOLSYNC__SINGLE_HOST", "true")
    assert run_dag("bol_orders_hourly", _run_hour() + timedelta(hours=1), [conn_id]) == "success"
