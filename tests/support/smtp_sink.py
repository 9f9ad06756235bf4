"""A real local SMTP server (aiosmtpd) that keeps every message it receives, for alert tests."""

from __future__ import annotations

import json
import os
import socket
from email import message_from_bytes
from email.message import Message
from types import TracebackType

from aiosmtpd.controller import Controller


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """``with SmtpSink() as sink: ...; sink.messages`` - an SMTP server on 127.0.0.1:``sink.port``."""

    def __init__(self) -> None:
        self._handler = _Collect()
        self.port = _free_port()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        return self._handler.messages

    def bodies(self) -> list[str]:
        """Subject and text of each message, for assertions."""
        texts = []
        for message in self.messages:
            parts = [message] if not message.is_multipart() else list(message.walk())
            payload = "".join(
                p.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
                for p in parts
                if p.get_content_maintype() == "text"
            )
            texts.append(f"{message['Subject']}\n{payload}")
        return texts

    def clear(self) -> None:
        self.messages.clear()

    def use_as_alert_channel(self, conn_id: str = "bolsync_alerts", to: str = "ops@example.com") -> None:
        """Point the alert connection (an Airflow smtp connection) at this server."""
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.port,
                "extra": {"to": to, "from_email": "bolsync@example.com", "disable_tls": True, "disable_ssl": True},
            }
        )

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
