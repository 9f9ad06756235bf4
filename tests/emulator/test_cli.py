"""``python -m bol_emulator``: the two printed lines, serving, and a clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_urls_serves_and_stops(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "include")}
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
