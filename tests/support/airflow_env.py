"""Helpers to run the real DAGs with ``dag.test()`` against the emulator and a temporary warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bolsync.warehouse.connection import WarehouseTarget, as_target, connect_warehouse, select_all

REPO = Path(__file__).resolve().parents[2]


def migrate_airflow_db() -> None:
    """``airflow db migrate`` on this worker's own SQLite file (see tests/conftest.py)."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )


def bol_connection(conn_id: str, base_url: str, client_id: str, secret: str, **extra: Any) -> None:
    """Define a ``bol_retailer`` connection as ``AIRFLOW_CONN_*`` JSON (what the README documents)."""
    payload = {
        "conn_type": "bol_retailer",
        "login": client_id,
        "password": secret,
        "extra": {"api_url": base_url, "login_url": f"{base_url}/token", **extra},
    }
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(payload)


def warehouse_connection(where: Path | str | WarehouseTarget, **extra: Any) -> None:
    """``bol_warehouse`` as the README documents it: a DuckDB file, or a PostgreSQL server (URI given), with
    optional extras (e.g. ``personal_data_reader_role``)."""
    target = as_target(where)
    if target.backend == "duckdb":
        payload: dict[str, Any] = {"conn_type": "duckdb", "host": str(target.path)}
    else:
        from urllib.parse import urlsplit

        url = urlsplit(str(target.dsn))
        payload = {
            "conn_type": "postgres",
            "host": url.hostname,
            "port": url.port or 5432,
            "login": url.username,
            "password": url.password,
            "schema": url.path.lstrip("/"),
        }
    if extra:
        payload["extra"] = extra
    os.environ["AIRFLOW_CONN_BOL_WAREHOUSE"] = json.dumps(payload)


def run_dag(dag_id: str, logical_date: datetime, accounts: list[str]) -> str:
    """Run one DAG run in-process; return its final state."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id]
    run = dag.test(logical_date=logical_date, run_conf={"accounts": accounts})
    return str(run.state)


def table_rows(where: Path | WarehouseTarget, table: str, exclude: str = "first_synced_at") -> list[tuple]:
    """Every row of ``bol.<table>`` without ``exclude``, sorted (either engine)."""
    with connect_warehouse(where) as conn:
        return select_all(conn, f"bol.{table}", exclude=[exclude])


def query(where: Path | WarehouseTarget, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with connect_warehouse(where) as conn:
        return conn.query(sql, params or [])
