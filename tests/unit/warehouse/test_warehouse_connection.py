"""The ``bol_warehouse`` connection as a deployment defines it: its extras are validated, its target never shows
the password."""

from __future__ import annotations

import json

import pytest

from bolsync.warehouse.connection import warehouse_target
from bolsync_provider.errors import BolConfigError

PASSWORD = "pg-secret-4711"


def _define(monkeypatch: pytest.MonkeyPatch, conn_type: str, extra: object, **fields: object) -> None:
    payload = {"conn_type": conn_type, "extra": extra if isinstance(extra, str) else json.dumps(extra), **fields}
    monkeypatch.setenv("AIRFLOW_CONN_BOL_WAREHOUSE", json.dumps(payload))


def _postgres(monkeypatch: pytest.MonkeyPatch, extra: object) -> None:
    _define(monkeypatch, "postgres", extra, host="db.internal", login="bolsync", password=PASSWORD, schema="wh")


def test_libpq_options_reach_the_dsn(monkeypatch) -> None:
    _postgres(monkeypatch, {"sslmode": "verify-full", "connect_timeout": 10, "personal_data_schema": "pii"})
    target = warehouse_target()
    assert "sslmode=verify-full" in str(target.dsn)
    assert "connect_timeout=10" in str(target.dsn)
    assert "personal_data_schema" not in str(target.dsn)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ssl_mode": "verify-full"}, "unknown extra 'ssl_mode' for a postgres warehouse"),
        ({"sslmode": "verify_full"}, "extra 'sslmode' must be one of disable, allow, prefer, require, verify-ca"),
        ({"connect_timeout": "10"}, "extra 'connect_timeout' must be whole seconds from 1 to 600, got '10'"),
        ('{"sslmode": "require",}', "its extra is not valid JSON"),
        ('["sslmode"]', "its extra must be a JSON object, got list"),
    ],
)
def test_bad_extras_are_refused_naming_the_key(monkeypatch, extra: object, message: str) -> None:
    _postgres(monkeypatch, extra)
    with pytest.raises(BolConfigError, match="connection 'bol_warehouse'") as refused:
        warehouse_target()
    assert message in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_duckdb_takes_no_libpq_options(monkeypatch, tmp_path) -> None:
    _define(monkeypatch, "duckdb", {"sslmode": "require"}, host=str(tmp_path / "w.duckdb"))
    with pytest.raises(BolConfigError, match="unknown extra 'sslmode' for a duckdb warehouse"):
        warehouse_target()


def test_the_target_never_shows_the_password(monkeypatch) -> None:
    _postgres(monkeypatch, {"sslmode": "require"})
    target = warehouse_target()
    for text in (repr(target), str(target), f"{target}", f"{target!r}", repr([target])):
        assert PASSWORD not in text
    assert "db.internal" in repr(target)
