"""One HTTP exchange with bol (token or API): no redirects, a capped body, and only typed, redacted errors.

Redirects are never followed: a 3xx comes back as it is and the status mapping turns it into an error
naming the target host (following one would re-send credentials, or a refresh token, elsewhere). The body
is streamed and the exchange stops once it exceeds ``max_bytes``. Every ``requests`` failure becomes a
:class:`BolError` whose message says what happened without echoing request headers.
"""

from __future__ import annotations

from typing import Any

import requests

from bolsync_provider.errors import BolClientError, BolResponseError, BolTransportError

CHUNK_BYTES = 64 * 1024


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    max_bytes: int,
    timeout: float,
    **kwargs: Any,
) -> requests.Response:
    """Send one request and read its whole body (at most ``max_bytes``); ``what`` labels errors."""
    try:
        response = session.request(method, url, allow_redirects=False, stream=True, timeout=timeout, **kwargs)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise BolTransportError(f"{what}: {type(error).__name__} (no response)") from None
    except requests.RequestException as error:
        raise BolClientError(
            f"{what}: the request could not be sent ({type(error).__name__}); check the connection's URLs "
            "and credentials for characters HTTP does not allow.",
            status=None,
        ) from None
    try:
        content = _read_capped(response, what, max_bytes)
    finally:
        response.close()
    response._content = content
    return response


def _read_capped(response: requests.Response, what: str, max_bytes: int) -> bytes:
    too_large = (
        f"{what}: the response (HTTP {response.status_code}) is larger than {max_bytes} bytes, the connection's "
        "max_response_bytes; stopped reading. Raise max_response_bytes if bol's answers really are this large."
    )
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise BolResponseError(too_large)
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise BolResponseError(too_large)
            parts.append(chunk)
    except requests.exceptions.ChunkedEncodingError:
        raise BolTransportError(
            f"{what}: the response body was cut off: the connection broke before all of it arrived "
            f"(Content-Length {declared.strip()[:20] or 'not given'})."
        ) from None
    except requests.exceptions.ContentDecodingError:
        raise BolResponseError(
            f"{what}: the response body could not be decompressed "
            f"(Content-Encoding {response.headers.get('Content-Encoding')!r})."
        ) from None
    except (requests.ConnectionError, requests.Timeout) as error:
        raise BolTransportError(f"{what}: {type(error).__name__} while reading the response body") from None
    except requests.RequestException as error:
        raise BolTransportError(f"{what}: {type(error).__name__} while reading the response body") from None
    return b"".join(parts)
