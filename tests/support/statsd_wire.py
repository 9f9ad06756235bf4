"""A minimal ``statsd.StatsClient`` for tests where the ``statsd`` package is not installed (it is not in
the lock; the official Airflow image ships it). Same constructor and methods as the ones Airflow's
``SafeStatsdLogger`` calls, same line protocol, sent as real UDP datagrams."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from typing import Any


class StatsClient:
    def __init__(
        self,
        host: str = "localhost",
        port: int = 8125,
        prefix: str | None = None,
        maxudpsize: int = 512,
        ipv6: bool = False,
    ) -> None:
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self._address = (host, int(port))
        self._prefix = prefix
        self._socket = socket.socket(family, socket.SOCK_DGRAM)

    def incr(self, stat: str, count: int = 1, rate: float = 1) -> None:
        self._send(stat, f"{count}|c")

    def decr(self, stat: str, count: int = 1, rate: float = 1) -> None:
        self._send(stat, f"{-count}|c")

    def gauge(self, stat: str, value: float, rate: float = 1, delta: bool = False) -> None:
        self._send(stat, f"{'+' if delta and value >= 0 else ''}{value}|g")

    def timing(self, stat: str, delta: float | timedelta, rate: float = 1) -> None:
        ms = delta.total_seconds() * 1000.0 if isinstance(delta, timedelta) else delta
        self._send(stat, f"{ms:0.6f}|ms")

    def timer(self, stat: str, rate: float = 1) -> _Timer:
        return _Timer(self, stat)

    def _send(self, stat: str, value: str) -> None:
        name = f"{self._prefix}.{stat}" if self._prefix else stat
        self._socket.sendto(f"{name}:{value}".encode("ascii"), self._address)


class _Timer:
    """``StatsClient.timer``: a context manager (or ``start``/``stop``) that sends the elapsed ms."""

    def __init__(self, client: StatsClient, stat: str) -> None:
        self._client = client
        self._stat = stat
        self._started: float | None = None
        self.ms: float | None = None

    def __enter__(self) -> _Timer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> _Timer:
        self._started = time.perf_counter()
        return self

    def stop(self, send: bool = True) -> _Timer:
        if self._started is not None:
            self.ms = (time.perf_counter() - self._started) * 1000.0
            if send:
                self._client.timing(self._stat, self.ms)
        return self
