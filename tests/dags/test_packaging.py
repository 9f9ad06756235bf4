"""The product ships as two wheels (the provider, the bolsync package); the emulator and the demo are tools."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("project", "package"), [(".", "bolsync"), ("plugins", "bolsync_provider")])
def test_each_wheel_holds_only_its_own_package(tmp_path: Path, project: str, package: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(REPO / project)],
        check=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("*.whl")
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {package}
    if package == "bolsync":
        assert "bolsync/warehouse/sql/001_orders.sql" in zipfile.ZipFile(wheel).namelist()
