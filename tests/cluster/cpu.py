"""CPU seconds of process trees (psutil), and of the PostgreSQL backends serving given databases.

A tree's figure is the user + system time of every live process in it plus the time of the children each
one has reaped (``children_user``/``children_system``): a task process that has exited still counts
through its parent. The difference of two readings is the CPU spent in between.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import psutil


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU seconds of ``roots`` and all their descendants, including reaped children."""
    seen: set[int] = set()
    total = 0.0
    for root in roots:
        try:
            leader = psutil.Process(root)
            members = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            continue
        for process in members:
            if process.pid in seen:
                continue
            seen.add(process.pid)
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system + times.children_user + times.children_system
    return total


class BackendCpu:
    """Samples the CPU of PostgreSQL backends connected to ``databases`` (from their process titles).

    Backends are children of the server's postmaster, not of ours, so they are sampled every ``interval``
    seconds and each keeps its highest reading; a short-lived connection may be missed, so the figure is a
    lower bound.
    """

    def __init__(self, databases: Iterable[str], interval: float = 1.0) -> None:
        self.databases = tuple(databases)
        self.interval = interval
        self.readings: dict[tuple[int, float], tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backend-cpu", daemon=True)

    def start(self) -> BackendCpu:
        """Take a first sample, then keep sampling in a thread."""
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds per database."""
        self._stop.set()
        self._thread.join(10)
        self.sample()
        return self.totals()

    def totals(self) -> dict[str, float]:
        """CPU seconds per database, summed over every backend seen so far."""
        totals = dict.fromkeys(self.databases, 0.0)
        for database, seconds in list(self.readings.values()):
            totals[database] += seconds
        return totals

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Read the CPU time of every backend of the databases now."""
        for process in psutil.process_iter(["cmdline", "create_time"]):
            database = self._database_of(process.info.get("cmdline") or [])
            if database is None:
                continue
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            self.readings[(process.pid, process.info["create_time"])] = (database, times.user + times.system)

    def _database_of(self, cmdline: list[str]) -> str | None:
        title = " ".join(cmdline)
        if not title.startswith("postgres: "):
            return None
        words = title.split()
        for database in self.databases:
            if database in words:
                return database
        return None
