"""The ``cluster`` marker: tests that start a whole CeleryExecutor deployment (minutes, many processes).

They are deselected unless the marker expression asks for them (``pytest -m cluster tests/cluster``, i.e.
``make cluster-test``), so ``make test`` never starts a cluster.
"""

from __future__ import annotations

import pytest

MARKER = "cluster"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: starts a CeleryExecutor cluster (make cluster-test)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if MARKER in (config.option.markexpr or ""):
        return
    deselected = [item for item in items if item.get_closest_marker(MARKER)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(MARKER)]
