"""``python -m bol_emulator``: the two printed lines, serving, and a clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from bol_emulator.__main__ import parse_args

REPO = Path(__file__).resolve().parents[2]
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - what a container needs


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_urls_serves_and_stops(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "include" / "emulator")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bol_emulator",
            "--port",
            "0",
            "--orders-per-day",
            "5",
            "--history-days",
            "2",
            "--no-retry-after",
            "--rate-scale",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        auth_line = process.stdout.readline()
        api_line = process.stdout.readline()
        assert auth_line.startswith("bol emulator auth: http://127.0.0.1:")
        assert auth_line.endswith("/token\n")
        assert api_line.startswith("bol emulator api:  http://127.0.0.1:")
        base = api_line.split()[-1]
        assert auth_line.split()[-1] == f"{base}/token"
        assert requests.get(f"{base}/_emulator/health", timeout=5).json() == {"status": "ok"}
        config = requests.get(f"{base}/_emulator/config", timeout=5).json()
        assert config["rate_scale"] == 2.0
        assert config["retry_after"] is False
        assert config["token_lifetime"] == 300
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "include" / "emulator")}
    command = [sys.executable, "-m", "bol_emulator", "--orders-per-day", "3", "--history-days", "2", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_listens_on_every_interface_at_an_anchor() -> None:
    process = start_cli("--host", EVERY_INTERFACE, "--port", "0", "--anchor", "2025-06-15T12:30:00+02:00")
    try:
        assert process.stdout is not None
        process.stdout.readline()
        base = process.stdout.readline().split()[-1]
        assert base.startswith("http://127.0.0.1:")
        rows = requests.get(f"{base}/_emulator/accounts/demo-client-a/order-items", timeout=5).json()
        changed = max(datetime.fromisoformat(row["latest_changed_at"]) for row in rows)
        assert datetime(2025, 6, 14, 10, 30, tzinfo=UTC) < changed <= datetime(2025, 6, 15, 10, 30, tzinfo=UTC)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_prints_the_public_url() -> None:
    process = start_cli("--port", "0", "--public-url", "http://bol-emulator:8765/")
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "bol emulator auth: http://bol-emulator:8765/token\n"
        assert process.stdout.readline() == "bol emulator api:  http://bol-emulator:8765\n"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_cli_reports_an_address_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = start_cli("--port", str(taken.getsockname()[1]))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "cannot listen on 127.0.0.1:" in err


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-06-15T10:30:00Z", datetime(2025, 6, 15, 10, 30, tzinfo=UTC)),
        ("2025-06-15T10:30:00", datetime(2025, 6, 15, 10, 30, tzinfo=UTC)),
        ("2025-06-15T12:30:00+02:00", datetime(2025, 6, 15, 10, 30, tzinfo=UTC)),
    ],
)
def test_anchor_argument(raw: str, expected: datetime) -> None:
    config = parse_args(["--anchor", raw])
    assert config.anchor == expected
    assert (config.host, config.public_url) == ("127.0.0.1", None)


@pytest.mark.parametrize(
    "argv", [["--anchor", "yesterday"], ["--public-url", "bol-emulator:8765"], ["--public-url", "ftp://x"]]
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err
