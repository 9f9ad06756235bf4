"""The provider tests' emulator: one per test module, its faults and counters reset for each test by ``bol``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bol_emulator import EmulatorHandle, start_emulator
from tests.emulator.conftest import small_config


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(small_config()) as handle:
        yield handle


@pytest.fixture
def bol(emulator: EmulatorHandle) -> EmulatorHandle:
    emulator.reset()
    return emulator
