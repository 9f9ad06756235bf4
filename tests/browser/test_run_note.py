"""``bolsync.runs.run_note`` against a stand-in of Airflow's REST API (the browser test uses the real one)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bolsync.runs.run_note import MAX_NOTE_CHARS, NOTE_CONN_ID, add_to_run_note, api_base_url, merged_note

RUN_PATH = "/api/v2/dags/bol_orders_daily/dagRuns/backfill__2026-08-02T22:00:00+00:00"


@dataclass
class FakeApi:
    """``POST /auth/token``, ``GET`` and ``PATCH`` of one DAG run; records what it was sent."""

    note: str | None = None
    patches: list[tuple[dict[str, list[str]], dict[str, Any]]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    state = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            return dict(json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}"))

        def do_POST(self) -> None:
            ok = self.path == "/auth/token" and self._body() == {"username": "notes", "password": "s3cret"}
            self._reply(201, {"access_token": "jwt-1"}) if ok else self._reply(401, {"detail": "no"})

        def do_GET(self) -> None:
            state.authorizations.append(self.headers.get("Authorization", ""))
            found = urlsplit(self.path).path == RUN_PATH.replace("+", "%2B").replace(":", "%3A")
            self._reply(200, {"note": state.note}) if found else self._reply(404, {"detail": self.path})

        def do_PATCH(self) -> None:
            parts = urlsplit(self.path)
            body = self._body()
            state.patches.append((parse_qs(parts.query), body))
            state.note = body["note"]
            self._reply(200, {"note": state.note})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    connection = {"conn_type": "http", "host": state.url, "login": "notes", "password": "s3cret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{NOTE_CONN_ID.upper()}", json.dumps(connection))
    yield state
    server.shutdown()
    server.server_close()


def _context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="bol_orders_daily", run_id="backfill__2026-08-02T22:00:00+00:00")
    return {"ti": ti}


def test_the_note_is_patched_through_the_rest_api_with_a_token(api: FakeApi) -> None:
    assert add_to_run_note(_context(), "bol keeps only 3 months of order history.")
    assert api.note == "bol keeps only 3 months of order history."
    assert api.patches == [({"update_mask": ["note"]}, {"note": "bol keeps only 3 months of order history."})]
    assert api.authorizations == ["Bearer jwt-1"]


def test_a_second_line_is_appended_and_a_repeated_one_written_once(api: FakeApi) -> None:
    api.note = "Checked by Anna."
    assert add_to_run_note(_context(), "window too old")
    assert add_to_run_note(_context(), "window too old")
    assert api.note == "Checked by Anna.\n\nwindow too old"
    assert len(api.patches) == 1


def test_without_the_connection_nothing_is_written_and_nothing_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(f"AIRFLOW_CONN_{NOTE_CONN_ID.upper()}", raising=False)
    assert add_to_run_note(_context(), "anything") is False


def test_an_unreachable_api_is_logged_not_raised(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {"conn_type": "http", "host": "http://127.0.0.1:9", "login": "notes", "password": "s3cret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{NOTE_CONN_ID.upper()}", json.dumps(connection))
    assert add_to_run_note(_context(), "anything", timeout=2) is False


def test_wrong_credentials_are_logged_not_raised(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {"conn_type": "http", "host": api.url, "login": "notes", "password": "wrong"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{NOTE_CONN_ID.upper()}", json.dumps(connection))
    assert add_to_run_note(_context(), "anything") is False
    assert api.patches == []


def test_merged_note_keeps_within_the_apis_limit() -> None:
    assert merged_note(None, " x ") == "x"
    assert merged_note("a", "b") == "a\n\nb"
    assert merged_note("a\n\nb", "b") == "a\n\nb"
    assert merged_note("a" * 995, "new line") == "new line"
    long = merged_note(None, "y" * 2000)
    assert len(long) == MAX_NOTE_CHARS
    assert long.endswith("…")


@pytest.mark.parametrize(
    ("host", "port", "schema", "expected"),
    [
        ("http://airflow-apiserver:8080/", None, None, "http://airflow-apiserver:8080"),
        ("airflow-apiserver", 8080, None, "http://airflow-apiserver:8080"),
        ("airflow.example.com", None, "https", "https://airflow.example.com"),
        ("https://airflow.example.com", 8443, None, "https://airflow.example.com:8443"),
    ],
)
def test_api_base_url(host: str, port: int | None, schema: str | None, expected: str) -> None:
    assert api_base_url(host, port, schema) == expected
