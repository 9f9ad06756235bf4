"""The base URL a client reached the emulator by: from its ``Host`` header, a public URL, or the bound address."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def bound_url(host: str, port: int) -> str:
    """``http://host:port`` for a listening address; a wildcard address becomes its loopback address."""
    host = WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def public_url(raw: str) -> str:
    """A validated ``http(s)://host[:port][/path]`` without a trailing slash; ValueError otherwise."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{raw!r} is not an http(s) base URL")
    return raw.rstrip("/")


def from_host(header: str | None) -> str | None:
    """``http://<Host>`` when the ``Host`` header is a plain ``host[:port]``, else None."""
    if header is None or not HOST_RE.match(header.strip()):
        return None
    return f"http://{header.strip()}"
