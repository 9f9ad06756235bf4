"""Test-wide setup: an isolated AIRFLOW_HOME per pytest-xdist worker, set before Airflow is imported."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_home = Path(tempfile.mkdtemp(prefix=f"bolsync-airflow-{_worker}-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home / 'airflow.db'}"
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
os.environ["BOLSYNC_STAGING_DIR"] = str(_home / "staging")
for folder in ("include", "plugins"):
    if str(REPO / folder) not in sys.path:
        sys.path.insert(0, str(REPO / folder))

pytest_plugins = ["tests.support.fixtures", "tests.support.warehouses"]


def pytest_collection_modifyitems(items: list) -> None:
    """Everything under tests/integration runs DAGs or processes against the emulator: marked ``integration``
    (``make integration-test``), so ``make test`` stays the fast suite."""
    import pytest

    integration = REPO / "tests" / "integration"
    for item in items:
        if integration in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
