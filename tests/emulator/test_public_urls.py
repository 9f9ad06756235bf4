"""URLs in responses name the emulator as the client reached it: by its ``Host`` header, a public URL, or
the bound address; ``host`` chooses the listening address."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import requests

from bol_emulator import EmulatorHandle, start_emulator
from tests.emulator.conftest import CLIENT_A, V10, Api, small_config

SERVICE = "bol-emulator:8765"
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - what a container needs


def export(api: Api, host: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {api.token}", "Accept": V10, "Content-Type": V10}
    if host is not None:
        headers["Host"] = host
    return api.session.post(
        api.handle.base_url + "/retailer/offers/export", json={"format": "CSV"}, headers=headers, timeout=10
    )


def href(body: dict[str, Any]) -> str:
    [link] = body["links"]
    return str(link["href"])


def test_hrefs_and_instances_follow_the_host_header(api: Api) -> None:
    response = export(api, host=SERVICE)
    assert response.status_code == 202, response.text
    process_id = response.json()["processStatusId"]
    assert href(response.json()) == f"http://{SERVICE}/shared/process-status/{process_id}"
    headers = {"Host": SERVICE, "Accept": V10, "Authorization": f"Bearer {api.token}"}
    base = api.handle.base_url
    status = api.session.get(f"{base}/shared/process-status/{process_id}", headers=headers, timeout=10)
    assert href(status.json()) == f"http://{SERVICE}/shared/process-status/{process_id}"
    missing = api.session.get(f"{base}/retailer/orders/NOPE", headers=headers, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["instance"] == f"http://{SERVICE}/retailer/orders/NOPE"
    unauthorized = api.session.get(f"{base}/retailer/orders", headers={"Host": SERVICE}, timeout=10)
    assert unauthorized.status_code == 401
    assert unauthorized.json()["instance"] == f"http://{SERVICE}/retailer/orders"


def test_the_default_host_header_gives_the_bound_address(api: Api) -> None:
    response = export(api)
    assert href(response.json()).startswith(f"http://127.0.0.1:{api.handle.port}/shared/process-status/")
    assert api.handle.base_url == f"http://127.0.0.1:{api.handle.port}"


def raw_export(handle: EmulatorHandle, token: str, host: str | None) -> dict[str, Any]:
    """POST the export with exactly the ``Host`` header given (none at all for None)."""
    connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=10)
    try:
        connection.putrequest("POST", "/retailer/offers/export", skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        body = b'{"format": "CSV"}'
        for key, value in (
            ("Authorization", f"Bearer {token}"),
            ("Accept", V10),
            ("Content-Type", V10),
            ("Content-Length", str(len(body))),
        ):
            connection.putheader(key, value)
        connection.endheaders(body)
        response = connection.getresponse()
        assert response.status == 202
        payload: dict[str, Any] = json.loads(response.read())
        return payload
    finally:
        connection.close()


@pytest.mark.parametrize("host", [None, "evil.example/x?", "a b", ""])
def test_a_missing_or_malformed_host_header_gives_the_bound_address(api: Api, host: str | None) -> None:
    body = raw_export(api.handle, api.token, host)
    assert href(body) == f"{api.handle.base_url}/shared/process-status/{body['processStatusId']}"


def test_ipv6_and_bare_host_headers_are_used_as_given(api: Api) -> None:
    for host in ("[::1]:8765", "bol-emulator"):
        body = raw_export(api.handle, api.token, host)
        assert href(body) == f"http://{host}/shared/process-status/{body['processStatusId']}"


def test_a_public_url_wins_over_the_host_header() -> None:
    with start_emulator(small_config(public_url="https://bol.example/api/")) as handle:
        assert handle.base_url == "https://bol.example/api"
        assert handle.token_url == "https://bol.example/api/token"
        local = f"http://127.0.0.1:{handle.port}"  # where this test reaches it
        token = requests.post(
            f"{local}/token", auth=CLIENT_A, data={"grant_type": "client_credentials"}, timeout=10
        ).json()["access_token"]
        for host in (SERVICE, None):
            body = raw_export(handle, token, host)
            assert href(body) == f"https://bol.example/api/shared/process-status/{body['processStatusId']}"


def test_a_malformed_public_url_is_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        start_emulator(small_config(public_url="bol-emulator:8765"))


def test_listening_on_every_interface() -> None:
    with start_emulator(small_config(host=EVERY_INTERFACE)) as handle:
        assert handle.address == (EVERY_INTERFACE, handle.port)
        assert handle.base_url == f"http://127.0.0.1:{handle.port}"
        assert requests.get(f"{handle.base_url}/_emulator/health", timeout=5).json() == {"status": "ok"}
        body = export(Api(handle), host=SERVICE).json()
        assert href(body).startswith(f"http://{SERVICE}/shared/process-status/")
