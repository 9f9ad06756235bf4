"""Process helpers for the demo driver: free ports, background processes, pid files, clean shutdown.

Every process the demo starts runs in its own session (process group) and carries the environment
variable ``BOLSYNC_DEMO_TOKEN=<token>``, so the demo can stop the whole group and then find and stop
any descendant that left the group, without touching anything it did not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

TOKEN_VARIABLE = "BOLSYNC_DEMO_TOKEN"  # noqa: S105 - a variable name, not a secret


class DemoError(RuntimeError):
    """A failure the demo reports to the user in plain words (no traceback)."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` if it is free, else a port the OS picks."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_process(command: Sequence[str], env: dict[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session with stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run_command(command: Sequence[str], env: dict[str, str], log_path: Path, cwd: Path, what: str) -> None:
    """Run a setup command to completion (output appended to ``log_path``); raise DemoError if it fails."""
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        result = subprocess.run(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise DemoError(f"{what} failed (exit {result.returncode}). Last lines of {log_path}:\n{tail(log_path)}")


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    if not path.exists():
        return ""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def wait_for_exit(pid: int, timeout: float, child: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            return True
        if child is None and not is_alive(pid):
            return True
        time.sleep(0.2)
    return child.poll() is not None if child is not None else not is_alive(pid)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to a process group, ignoring a group that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_group(
    pid: int,
    name: str,
    first_signal: signal.Signals = signal.SIGINT,
    grace: float = 30.0,
    child: subprocess.Popen[bytes] | None = None,
    say: Callable[[str], None] = print,
    leader_only: bool = False,
) -> None:
    """Stop the process group led by ``pid``: ``first_signal``, then SIGTERM, then SIGKILL to the group.

    With ``leader_only`` the first signal goes to ``pid`` alone, which then stops its own children;
    each step waits until the leader has exited and no process is left in the group.
    """
    steps = ((first_signal, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
    started = time.monotonic()
    for step, (sig, wait) in enumerate(steps):
        if not is_alive(pid) and not group_members(pid):
            break
        if step:
            say(f"{name} still running after {time.monotonic() - started:.0f}s; sending {sig.name} to its group")
        if step == 0 and leader_only:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        else:
            signal_group(pid, sig)
        deadline = time.monotonic() + wait
        wait_for_exit(pid, wait, child)
        _wait_group_empty(pid, max(0.0, deadline - time.monotonic()))
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)
    say(f"{name} stopped ({time.monotonic() - started:.1f}s)")


def _wait_group_empty(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)


def processes_with_token(token: str) -> list[int]:
    """Live processes (other than this one) whose environment carries ``BOLSYNC_DEMO_TOKEN=token``."""
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_leftovers(token: str, say: Callable[[str], None] = print) -> list[int]:
    """SIGTERM, then SIGKILL, every process still carrying the demo token; return their pids."""
    leftovers = processes_with_token(token)
    if not leftovers:
        return []
    say(f"Stopping {len(leftovers)} leftover process(es): {' '.join(map(str, leftovers))}")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while any(is_alive(pid) for pid in leftovers) and time.monotonic() < deadline:
            time.sleep(0.2)
    return leftovers


def write_pid(path: Path, pid: int) -> None:
    """Write ``pid`` to a pid file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def read_pid(path: Path) -> int | None:
    """The pid in a pid file, or None if it is missing or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def process_has_token(pid: int, token: str) -> bool:
    """Whether ``pid`` is alive and one of ours (carries the demo token)."""
    return pid in processes_with_token(token)
