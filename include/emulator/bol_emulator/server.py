"""The HTTP layer: a threading stdlib server (on 127.0.0.1 unless configured otherwise) feeding the Emulator."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from bol_emulator import urls
from bol_emulator.app import Emulator, Request
from bol_emulator.config import EmulatorConfig
from bol_emulator.faults import FaultBook
from bol_emulator.problems import Response, html_error
from bol_emulator.stats import Stats
from bol_emulator.world import World


class EmulatorServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer (daemon threads) that knows its Emulator."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, emulator: Emulator, host: str, port: int) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)
        self.emulator = emulator

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the address (slow where DNS is missing)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early (timeouts, dropped connections) are normal here; report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the Emulator, writes the answer (or drops the connection)."""

    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 120
    wbufsize = -1  # buffered: headers and body leave in one segment
    disable_nagle_algorithm = True
    server: EmulatorServer

    def _serve(self) -> None:
        raw_length = self.headers.get("Content-Length") or "0"
        length = int(raw_length) if raw_length.isdigit() else 0
        body = self.rfile.read(length) if length > 0 else b""
        request = Request.build(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = self.server.emulator.handle(request)
        except Exception as exc:  # a bug in the emulator must still answer
            self.log_error("emulator error: %r", exc)
            response = html_error(500)
        if response.drop:
            self._drop()
        else:
            self._write(response)

    def _drop(self) -> None:
        """Close the socket without writing a byte of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, response: Response) -> None:
        """A ``Content-Length`` the response sets itself is sent as is; if the body is shorter, the connection
        closes after it (a truncated download)."""
        headers = dict(response.headers)
        length = headers.pop("Content-Length", None) or str(len(response.body))
        self.close_connection = self.close_connection or length != str(len(response.body))
        self.send_response(response.status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def version_string(self) -> str:
        return self.server_version

    def __getattr__(self, name: str) -> Any:
        """Every HTTP method (also QUERY, TRACE, ...) reaches the emulator, which answers 404/405 itself."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.emulator.config.verbose:
            sys.stderr.write(f"bol emulator: {self.address_string()} {format % args}\n")


class EmulatorHandle:
    """A running emulator: its URLs and state; ``stop()`` shuts it down (also usable as a context manager).

    ``base_url`` is the public URL if configured, else the bound address (a wildcard one as loopback).
    """

    def __init__(self, server: EmulatorServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.emulator = server.emulator
        self.port: int = server.server_address[1]
        self.address: tuple[str, int] = (str(server.server_address[0]), self.port)
        self.base_url = self.emulator.base_url
        self.token_url = f"{self.base_url}/token"

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    @property
    def world(self) -> World:
        return self.emulator.world

    @property
    def stats(self) -> Stats:
        return self.emulator.stats

    @property
    def faults(self) -> FaultBook:
        return self.emulator.faults

    def reset(self) -> None:
        """Regenerate the world from the seed and clear faults, counters, rate-limit windows and settings."""
        self.emulator.reset()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig | None = None) -> EmulatorHandle:
    """Generate the world, bind ``config.host``:``config.port`` (0 = any free port) and serve in a daemon
    thread; OSError if the address cannot be bound, ValueError for a malformed ``public_url``."""
    config = config or EmulatorConfig()
    emulator = Emulator(config)
    server = EmulatorServer(emulator, config.host, config.port)
    emulator.bound_url = urls.bound_url(config.host, server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="bol-emulator", daemon=True
    )
    thread.start()
    return EmulatorHandle(server, thread)
