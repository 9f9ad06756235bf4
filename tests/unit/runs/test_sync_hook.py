"""The hook the DAGs sync with refuses bol's demo environment, before anything is sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bolsync.runs.sync_hook import SyncHook
from bolsync_provider.errors import BolConfigError


def test_a_demo_connection_is_refused_naming_the_connection_and_the_field(set_connection: Any) -> None:
    set_connection("bol_try", api_url="http://127.0.0.1:9", environment="bol-demo")
    hook = SyncHook("bol_try")
    for _ in range(2):  # not cached past the refusal
        with pytest.raises(BolConfigError) as refused:
            hook.get_retailer_id()  # the connection is read first: port 9 is never contacted
        message = str(refused.value)
        assert "connection 'bol_try' is set to bol's demo environment" in message
        assert "extra 'environment', is 'bol-demo'" in message
        assert "Set the connection's environment to 'production'" in message
        assert "secret-value-xyz" not in message


def test_a_production_connection_is_synced(set_connection: Any) -> None:
    set_connection("bol_live", environment="production")
    assert SyncHook("bol_live").settings.environment == "production"
    set_connection("bol_default")
    assert not SyncHook("bol_default").settings.is_demo


def test_the_planner_cli_refuses_a_demo_connection(
    set_connection: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bolsync.planner.__main__ import main

    monkeypatch.setenv(
        "AIRFLOW_CONN_BOL_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "w.duckdb")})
    )
    set_connection("bol_try", api_url="http://127.0.0.1:9", environment="bol-demo")
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=3)).isoformat()
    assert main(["--account", "bol_try", "--from", first, "--to", first]) == 2
    assert "connection 'bol_try' is set to bol's demo environment" in capsys.readouterr().err
