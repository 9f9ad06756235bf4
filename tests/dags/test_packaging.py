"""The product ships as two wheels (the provider, the bolsync package); the emulator and the demo are tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("project", "package"), [(".", "bolsync"), ("plugins", "bolsync_provider")])
def test_each_wheel_holds_only_its_own_package(tmp_path: Path, project: str, package: str) -> None:
    source = tmp_path / "source"  # a copy: setuptools leaves build/ and egg-info in the tree it builds
    shutil.copytree(
        REPO / project,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*", "tests", "docs", "data"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(source)],
        check=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("*.whl")
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {package}
    if package == "bolsync":
        assert "bolsync/warehouse/sql/001_orders.sql" in zipfile.ZipFile(wheel).namelist()
