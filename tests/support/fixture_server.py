"""Serves raw HTTP responses captured from bol's API (tests/fixtures/bol_api/fixtures) over real HTTP."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# bol's published API specs and captured responses, kept in the repository (see tests/fixtures/bol_api/README.md).
BOL_API_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "bol_api"
FIXTURES = BOL_API_DIR / "fixtures"


@dataclass
class Fixture:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def dropped(cls) -> Fixture:
        return cls(0, [], b"")

    @classmethod
    def json(cls, status: int, body: bytes, **headers: str) -> Fixture:
        pairs = [("Content-Type", "application/vnd.retailer.v10+json;charset=UTF-8"), *headers.items()]
        return cls(status, [(k.replace("_", "-"), v) for k, v in pairs], body)

    @classmethod
    def load(cls, name: str) -> Fixture:
        raw = (FIXTURES / name).read_text(encoding="utf-8")
        head, _, body = raw.partition("\n\n")
        lines = head.splitlines()
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            key, _, value = line.partition(":")
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                headers.append((key.strip(), value.strip()))
        return cls(status, headers, body.encode("utf-8"))


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FixtureServer:
    """Queue fixtures per path; each request pops the next one (the last one repeats)."""

    routes: dict[str, deque[Fixture]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Recorded] = field(default_factory=list)

    def queue(self, path: str, *names: str) -> None:
        for name in names:
            self.routes[path].append(Fixture.load(name))

    def queue_fixture(self, path: str, fixture: Fixture) -> None:
        self.routes[path].append(fixture)

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                server.requests.append(
                    Recorded(self.command, parts.path, parts.query, dict(self.headers), self.rfile.read(length))
                )
                queue = server.routes.get(parts.path)
                if not queue:
                    self.send_response(599)
                    self.end_headers()
                    return
                fixture = queue.popleft() if len(queue) > 1 else queue[0]
                if fixture.status == 0:  # a dropped connection: close without answering
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(fixture.status)
                for key, value in fixture.headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(fixture.body)))
                self.end_headers()
                self.wfile.write(fixture.body)

            do_GET = _serve
            do_POST = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
