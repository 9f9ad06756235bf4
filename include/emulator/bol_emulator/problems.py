"""HTTP responses in bol's shapes: JSON bodies, Problem JSON and the HTML error pages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

V10_JSON = "application/vnd.retailer.v10+json"
V10_JSON_UTF8 = "application/vnd.retailer.v10+json;charset=UTF-8"
V10_CSV = "application/vnd.retailer.v10+csv"
V10_CSV_UTF8 = "application/vnd.retailer.v10+csv;charset=UTF-8"
V11_JSON = "application/vnd.retailer.v11+json"
V11_JSON_UTF8 = "application/vnd.retailer.v11+json;charset=UTF-8"
PLAIN_JSON = "application/json;charset=UTF-8"
PROBLEM_TYPE = "https://api.bol.com/problems"
HOST = "Instance-001"
INACTIVE_DETAIL = "Account is not active, access denied. Please contact partnerservice if this is unexpected."
VALIDATION_TITLE = "Error validating request. Consult the bol.com API documentation for more information."


@dataclass
class Response:
    """What the handler writes; ``drop`` closes the connection without writing anything."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, payload: Any, content_type: str = V10_JSON_UTF8) -> Response:
    """A JSON response (UTF-8, non-ASCII kept as is)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": content_type})


def empty_page() -> Response:
    """bol's end of pagination: ``{}`` with no ``orders`` key."""
    return Response(200, b"{}", {"Content-Type": V10_JSON_UTF8})


def problem(
    status: int,
    detail: str,
    instance: str,
    title: str | None = None,
    violations: list[dict[str, str]] | None = None,
    content_type: str = V10_JSON,
) -> Response:
    """A full Problem (all fields the spec requires)."""
    return json_response(
        status,
        {
            "type": PROBLEM_TYPE,
            "title": title or HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "host": HOST,
            "instance": instance,
            "violations": violations or [],
        },
        content_type,
    )


def bad_request(violations: list[dict[str, str]], instance: str, content_type: str = V10_JSON) -> Response:
    """400 for invalid query parameters, one violation each."""
    return problem(400, "Bad request", instance, VALIDATION_TITLE, violations, content_type)


def unauthorized(instance: str) -> Response:
    """401 for a missing or invalid bearer token."""
    detail = "Full authentication is required to access this resource. Provide a valid JWT."
    return problem(401, detail, instance, "Unauthorized")


def expired_jwt(detail: str) -> Response:
    """401 exactly like bol's expired-token answer."""
    return json_response(401, {"title": "Expired JWT", "status": 401, "detail": detail}, V10_JSON)


def inactive_account() -> Response:
    """403 exactly like bol's inactive-account answer."""
    return json_response(
        403,
        {
            "title": "Forbidden",
            "status": 403,
            "detail": INACTIVE_DETAIL,
            "host": HOST,
        },
        V10_JSON,
    )


def too_many_requests(seconds: int, retry_after: bool, content_type: str = V10_JSON) -> Response:
    """429 like bol's, with or without ``Retry-After``."""
    detail = f"Too many requests, retry in {seconds} seconds."
    response = json_response(429, {"title": "Too Many Requests", "status": 429, "detail": detail}, content_type)
    if retry_after:
        response.headers["Retry-After"] = str(seconds)
    return response


def not_acceptable(instance: str, media: str = V10_JSON) -> Response:
    """406 when ``Accept`` does not allow the endpoint's media type."""
    return problem(406, f"The requested media type is not supported. Use 'Accept: {media}'.", instance)


def invalid_client() -> Response:
    """The token endpoint's answer to bad or revoked credentials."""
    body = {"error": "invalid_client", "error_description": "Bad client credentials"}
    return json_response(401, body, PLAIN_JSON)


def html_error(status: int) -> Response:
    """A gateway-style ``text/html`` error (500 reads exactly like bol's fixture)."""
    phrase = HTTPStatus(status).phrase
    if status == 500:
        body = f"{phrase}\n"
    else:
        body = (
            f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
    return Response(status, body.encode("utf-8"), {"Content-Type": "text/html; charset=UTF-8"})
