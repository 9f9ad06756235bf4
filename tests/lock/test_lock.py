"""The lock file: pinned and hashed throughout, complete for requirements.in and the four distributions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECTS = [
    "pyproject.toml",
    "plugins/pyproject.toml",
    "include/emulator/pyproject.toml",
    "include/demo/pyproject.toml",
]
REQUIRES_PYTHON = ">=3.11,<3.14"
BLOCK = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]+\])?==([^ ;\\]+)[^\n]*\n((?:[ #].*\n?)*)", re.MULTILINE)


def lock() -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(name, extras) -> (version, sha256 hashes) for each block of requirements.txt."""
    text = (REPO / "requirements.txt").read_text()
    blocks: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for name, extras, version, rest in BLOCK.findall(text):
        blocks[(canonicalize_name(name), extras)] = (version, re.findall(r"--hash=sha256:[0-9a-f]{64}", rest))
    assert len(blocks) == sum(1 for line in text.splitlines() if re.match(r"[A-Za-z0-9]", line))
    return blocks


def pins() -> dict[str, str]:
    return {name: version for (name, _), (version, _) in lock().items()}


def test_every_requirement_is_pinned_and_hashed() -> None:
    blocks = lock()
    assert len(blocks) > 150
    assert [key for key, (_, hashes) in blocks.items() if not hashes] == []


def test_every_extras_block_has_its_plain_twin() -> None:
    blocks = lock()
    for (name, extras), (version, hashes) in blocks.items():
        if extras:
            assert blocks[(name, "")] == (version, hashes), name


def test_requirements_in_is_locked() -> None:
    locked = pins()
    for line in (REPO / "requirements.in").read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            req = Requirement(spec)
            assert req.specifier.contains(locked[canonicalize_name(req.name)], prereleases=True), spec


@pytest.mark.parametrize("project", PROJECTS)
def test_distribution_dependencies_are_locked(project: str) -> None:
    """The editables install with --no-deps: the lock must hold what each one needs."""
    locked = pins()
    ours = {canonicalize_name(tomllib.loads((REPO / p).read_text())["project"]["name"]) for p in PROJECTS}
    meta = tomllib.loads((REPO / project).read_text())
    for spec in [*meta["project"]["dependencies"], *meta["build-system"]["requires"]]:
        req = Requirement(spec)
        if canonicalize_name(req.name) not in ours:
            assert req.specifier.contains(locked[canonicalize_name(req.name)], prereleases=True), spec


def test_python_versions_agree() -> None:
    for project in PROJECTS:
        assert tomllib.loads((REPO / project).read_text())["project"]["requires-python"] == REQUIRES_PYTHON
    tools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]
    assert tools["ruff"]["target-version"] == "py311"
    assert tools["mypy"]["python_version"] == "3.11"
