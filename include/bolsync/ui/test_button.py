"""Lets the Airflow UI's Test button test a stored ``bol_retailer`` connection.

The connections list posts the stored connection back to ``POST /api/v2/connections/test`` with its secret masked
and its unset port as ``0``; Airflow reuses the stored secret only if host and port are unchanged, and compares
``0`` with the stored ``NULL``, so every test of a connection without a port answers 400. A ``bol_retailer``
connection has no port (its form hides it): this root middleware drops the port from such a request and leaves
every other request as it came.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TEST_PATH = "/api/v2/connections/test"
CONN_TYPE = "bol_retailer"
#: A test request is a small JSON form; a larger body passes through untouched.
MAX_BODY = 1024 * 1024


def without_port(body: bytes) -> bytes:
    """The request body without its meaningless port, if it tests a ``bol_retailer`` connection."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("conn_type") != CONN_TYPE or data.get("port", 1) not in (0, None, ""):
        return body
    del data["port"]
    return json.dumps(data).encode()


class BolTestButtonMiddleware:
    """Pure ASGI middleware: rewrites only ``POST /api/v2/connections/test`` bodies (see :func:`without_port`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(TEST_PATH):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body"))
            if size > MAX_BODY:
                break
        body = b"".join(chunks)
        if more:  # too large to be a form: passed on as it came
            await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": True}], receive), send)
            return
        body = without_port(body)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        await self.app({**scope, "headers": headers}, _replay(replay), send)


def _replay(messages: list[Message], rest: Receive | None = None) -> Receive:
    """A ``receive`` that answers ``messages`` first, then the original ``receive`` (or a disconnect)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if rest is not None:
            return await rest()
        return {"type": "http.disconnect"}

    return receive
