"""The dag-processor re-parses every DAG file and every task process parses its own: every DAG imports the data
libraries, the warehouse drivers, the HTTP client and the sync steps only when a task runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
FILES = sorted(path.stem for path in DAGS.glob("*.py"))
HEAVY = ("pandas", "numpy", "duckdb", "psycopg", "pyarrow", "requests", "bolsync.streams.steps")

PARSE = (
    "import runpy, sys\n"
    "runpy.run_path(sys.argv[1])\n"
    "print('loaded:', ','.join(m for m in sys.argv[2:] if m in sys.modules))\n"
)


@pytest.mark.parametrize("name", FILES)
def test_parsing_imports_no_heavy_module(name: str) -> None:
    """A fresh interpreter parses the DAG file alone (this checkout's packages first on the path)."""
    paths = [str(REPO / "include"), str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    result = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS / f"{name}.py"), *HEAVY],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "loaded:"
