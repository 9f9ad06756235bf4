"""The connection Test as Airflow runs it (a transient connection id, and `airflow connections test` in its own
process) leaves nothing behind; the DAGs refuse to sync a connection in bol's demo environment."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.integration.conftest import ACCOUNTS, Emulator
from tests.support.airflow_env import bol_connection, query, run_dag

FAST = {
    "rate_limit_per_second": 200,
    "endpoint_rate_limits": {"GET /retailer/orders": [400, 60], "GET /retailer/orders/{id}": [400, 1]},
}
SHOP_A = ACCOUNTS["bol_shop_a"]


def _variables() -> dict[str, str | None]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return {v.key: v.val for v in session.query(Variable).all()}


def _shared_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of this test's shared state file (``own_shared_state``), or {} without a file."""
    url = os.environ["AIRFLOW__BOLSYNC__SHARED_STATE_URL"]
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}


@pytest.fixture
def api(airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Airflow's REST API in-process (every user an admin), with the connection Test enabled."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    with TestClient(create_app()) as client:
        yield client


def _press_test(api: Any, **fields: Any) -> tuple[bool, str]:
    """The form's Test button: ``POST /api/v2/connections/test`` (Airflow runs it under a made-up id)."""
    body = {"connection_id": "bol_form_test", "conn_type": "bol_retailer", **fields}
    response = api.post("/api/v2/connections/test", json=body)
    assert response.status_code == 200, response.text
    return response.json()["status"], response.json()["message"]


def _form(url: str, secret: str = SHOP_A.client_secret, **extra: Any) -> dict[str, Any]:
    payload = {"api_url": url, "login_url": f"{url}/token", **extra}
    return {"login": SHOP_A.client_id, "password": secret, "extra": json.dumps(payload)}


def test_a_test_leaves_no_variable_lease_or_cache_entry(emulator: Emulator, api: Any) -> None:
    variables, state = _variables(), _shared_state()
    answers = [
        _press_test(api, **_form(emulator.url)),
        _press_test(api, **_form(emulator.url, environment="bol-demo")),
        _press_test(api, **_form(emulator.url, secret="it-secret-wrong")),
    ]
    assert answers[0] == (True, f"Connected to bol (production) as retailer {SHOP_A.retailer_id}.")
    assert answers[1][1].startswith(f"Connected to bol's demo environment as retailer {SHOP_A.retailer_id}.")
    assert answers[2][1].startswith("bol does not accept this Client ID and Client Secret")
    assert _variables() == variables
    assert _shared_state() == state
    # A connection read by a sync leaves its token behind (so the comparison above can fail).
    bol_connection("bol_form_sync", emulator.url, SHOP_A.client_id, SHOP_A.client_secret)
    assert BolRetailerHook("bol_form_sync").get_retailer_id() == SHOP_A.retailer_id
    assert set(_variables()) - set(variables) == {"bolsync_access_token__bol_form_sync"}
    assert _shared_state() != state


@pytest.fixture
def cli_home(tmp_path: Path) -> dict[str, str]:
    """An environment for the ``airflow`` CLI with its own AIRFLOW_HOME (and metadata DB), Test enabled."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__BOLSYNC__SHARED_STATE_URL": f"sqlite:///{home / 'shared_state.sqlite'}",
            "COLUMNS": "400",
        }
    )
    return env


def _cli_test(env: dict[str, str], conn_id: str, fields: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    payload = {"conn_type": "bol_retailer", **fields, "extra": json.loads(fields["extra"])}
    run_env = {**env, f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(payload)}
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [airflow, "connections", "test", conn_id],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_cli_shows_the_same_message(emulator: Emulator, api: Any, cli_home: dict[str, str]) -> None:
    wrong = _form(emulator.url, secret="it-secret-wrong")
    failed = _cli_test(cli_home, "bol_cli_wrong", wrong)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    _, expected = _press_test(api, **wrong)
    assert expected.startswith("bol does not accept this Client ID and Client Secret")
    assert "Connection failed!" in failed.stdout
    assert " ".join(expected.split()) in " ".join(failed.stdout.split())
    assert "it-secret-wrong" not in failed.stdout + failed.stderr

    ok = _cli_test(cli_home, "bol_cli_ok", _form(emulator.url))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Connection success!" in ok.stdout
    assert not (Path(cli_home["AIRFLOW_HOME"]) / "shared_state.sqlite").exists()


def test_the_dags_refuse_a_demo_connection(
    airflow_db: None, emulator: Emulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_b = ACCOUNTS["bol_shop_b"]
    bol_connection(
        "bol_shop_demo", emulator.url, shop_b.client_id, shop_b.client_secret, environment="bol-demo", **FAST
    )
    before = emulator.stats()
    for dag_id in ("bol_orders_hourly", "bol_offers_daily"):
        # a run of now: the offers DAG skips a run whose day ended more than a day ago
        assert run_dag(dag_id, datetime.now(UTC), ["bol_shop_a", "bol_shop_demo"]) == "failed"
        rows = query(
            warehouse,
            "SELECT task_id, status, error FROM bol.sync_runs WHERE conn_id = 'bol_shop_demo' AND dag_id = ?",
            [dag_id],
        )
        assert [(task, status) for task, status, _ in rows] == [("sync_account.check_auth", "failed")]
        error = rows[0][2]
        assert "connection 'bol_shop_demo' is set to bol's demo environment" in error
        assert "extra 'environment'" in error
        assert "Set the connection's environment to 'production'" in error
        loaded = query(
            warehouse,
            "SELECT status FROM bol.sync_runs WHERE conn_id = 'bol_shop_a' AND dag_id = ? AND task_id LIKE '%load'",
            [dag_id],
        )
        assert "success" in {status for (status,) in loaded}  # the other account syncs on
    after = emulator.stats()
    assert after["token_requests"].get(shop_b.client_id, 0) == before["token_requests"].get(shop_b.client_id, 0)
    demo = [endpoint for endpoint in after["requests"] if "demo" in endpoint]
    assert [after["requests"][e] for e in demo] == [before["requests"].get(e) for e in demo]  # no demo call
