"""Decoding a JSON answer of the Retailer API: strictly as UTF-8, never by guessing its encoding.

JSON exchanged between systems is UTF-8 (RFC 8259 section 8.1), and bol sends UTF-8. A body that is not
valid UTF-8 is refused rather than decoded by a guess (a declared charset, or detection): a wrong guess
would land altered names and addresses without any error. A leading UTF-8 byte order mark is tolerated
(the RFC lets a parser ignore it) and dropped; the declared charset is not used to decode.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

import requests

from bolsync_provider.errors import BolResponseError


def decode_json(response: requests.Response, endpoint: str) -> Any:
    """The decoded JSON body of ``response`` (``None`` when empty); BolResponseError naming ``endpoint``."""
    content = response.content
    if not content.strip():
        return None
    content_type = str(response.headers.get("Content-Type"))[:80]
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8) :]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BolResponseError(
            f"{endpoint} answered {response.status_code} with a body that is not UTF-8 (byte {error.start} of "
            f"{len(content)}: {content[error.start : error.start + 4]!r}; content type {content_type!r}). The "
            "Retailer API sends JSON in UTF-8; the body is refused rather than decoded by guessing its "
            "encoding. If bol keeps sending it, report it to bol partner service."
        ) from None
    try:
        return json.loads(text)
    except ValueError:
        raise BolResponseError(
            f"{endpoint} answered {response.status_code} with a body that is not JSON (content type {content_type!r})."
        ) from None
    except RecursionError:
        raise BolResponseError(
            f"{endpoint} answered {response.status_code} with JSON nested too deeply to read."
        ) from None
