"""Helpers to run the real DAGs with ``dag.test()`` against the emulator and a temporary warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bolsync.warehouse.duckdb_connection import connect_warehouse

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


def warehouse_connection(path: Path) -> None:
    os.environ["AIRFLOW_CONN_BOL_WAREHOUSE"] = json.dumps({"conn_type": "duckdb", "host": str(path)})


def run_dag(dag_id: str, logical_date: datetime, accounts: list[str]) -> str:
    """Run one DAG run in-process; return its final state."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id]
    run = dag.test(logical_date=logical_date, run_conf={"accounts": accounts})
    return str(run.state)


def table_rows(path: Path, table: str, exclude: str = "first_synced_at") -> list[tuple]:
    with connect_warehouse(path) as conn:
        return conn.execute(f"SELECT * EXCLUDE ({exclude}) FROM bol.{table} ORDER BY ALL").fetchall()


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with connect_warehouse(path) as conn:
        return conn.execute(sql, params or []).fetchall()
