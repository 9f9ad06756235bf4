"""CI ends only what it started: `.ci/stop-tagged` stops the processes carrying a step's tag, nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STOP_TAGGED = REPO / ".ci" / "stop-tagged"


def _alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if _alive(process):
            process.kill()
        process.wait()


def _start(started: list[subprocess.Popen[bytes]], name: str, tag: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "BOLSYNC_CI_TAG"}
    if tag is not None:
        env["BOLSYNC_CI_TAG"] = tag
    # A name like the ones the old name-based cleanup matched, in a session of its own (as the demo starts
    # Airflow), so neither the name nor the process group identifies it.
    process = subprocess.Popen(["bash", "-c", f'exec -a "{name}" sleep 120'], env=env, start_new_session=True)
    started.append(process)
    return process


def _wait_running(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{process.pid}/cmdline").read_bytes().startswith(b"airflow"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"process {process.pid} did not start")


def test_stops_only_the_processes_of_its_tag(processes: list[subprocess.Popen[bytes]]) -> None:
    tag = f"test-{os.getpid()}-{time.monotonic_ns()}"
    ours = _start(processes, "airflow scheduler", tag)
    users = _start(processes, "airflow scheduler", None)
    other_step = _start(processes, "airflow celery worker", tag + "-other")
    for process in processes:
        _wait_running(process)

    done = subprocess.run(["bash", str(STOP_TAGGED), tag, "5"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    ours.wait(timeout=10)
    assert not _alive(ours)
    assert _alive(users), "a same-named process CI did not start was stopped"
    assert _alive(other_step), "a process of another step's tag was stopped"


def test_runs_even_when_called_with_the_tag_in_its_own_environment(processes: list[subprocess.Popen[bytes]]) -> None:
    tag = f"self-{os.getpid()}-{time.monotonic_ns()}"
    ours = _start(processes, "airflow triggerer", tag)
    _wait_running(ours)
    env = {**os.environ, "BOLSYNC_CI_TAG": tag}

    done = subprocess.run(["bash", str(STOP_TAGGED), tag, "5"], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    ours.wait(timeout=10)
    assert not _alive(ours)


#: Commands that end processes by name (spelled in parts, so that this file is not one of their users).
BY_NAME = re.compile(r"\b(" + "p" + "kill|kill" + r"all)\b")


def test_ci_never_ends_processes_by_name() -> None:
    for script in sorted((REPO / ".ci").iterdir()):
        assert not BY_NAME.search(script.read_text(encoding="utf-8")), f"{script.name} ends processes by name"
