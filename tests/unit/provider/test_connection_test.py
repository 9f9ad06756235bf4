"""The connection form's Test button against the emulator over HTTP: every answer in a seller's words, never
the secret, and the demo environment's paths."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests

from bol_emulator import EmulatorHandle
from bolsync_provider.auth.cache import MemoryTokenCache
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from tests.emulator.conftest import CLIENT_A

RETAILER_A = "1000001"


def _test(set_connection: Any, base_url: str, conn_id: str = "bol_form", **fields: Any) -> tuple[bool, str]:
    """Define the connection as the form would and press Test (the hook Airflow builds: no injected parts)."""
    login = fields.pop("login", CLIENT_A[0])
    password = fields.pop("password", CLIENT_A[1])
    set_connection(conn_id, login=login, password=password, api_url=base_url, login_url=f"{base_url}/token", **fields)
    return BolRetailerHook(conn_id).test_connection()


def _requests(bol: EmulatorHandle) -> dict[str, dict[str, int]]:
    return bol.stats.snapshot()["requests"]


def test_production_success_names_the_retailer_and_the_environment(bol: EmulatorHandle, set_connection: Any) -> None:
    assert _test(set_connection, bol.base_url) == (True, f"Connected to bol (production) as retailer {RETAILER_A}.")
    assert _requests(bol) == {"POST /token": {"200": 1}, "GET /retailer/orders": {"200": 1}}


def test_demo_success_calls_the_demo_paths_only(bol: EmulatorHandle, set_connection: Any) -> None:
    ok, message = _test(set_connection, bol.base_url, environment="bol-demo")
    assert ok
    assert message.startswith(f"Connected to bol's demo environment as retailer {RETAILER_A}.")
    assert "set its environment to production to sync" in message
    assert _requests(bol) == {"POST /token": {"200": 1}, "GET /retailer-demo/orders": {"200": 1}}


@pytest.mark.parametrize(
    "credentials", [(CLIENT_A[0], "demo-secret-wrong"), ("no-such-client", CLIENT_A[1])], ids=["secret", "client id"]
)
def test_wrong_client_id_or_secret(bol: EmulatorHandle, set_connection: Any, credentials: tuple[str, str]) -> None:
    ok, message = _test(set_connection, bol.base_url, login=credentials[0], password=credentials[1])
    assert not ok
    assert message.startswith("bol does not accept this Client ID and Client Secret")
    assert "Seller Dashboard" in message
    assert "invalid_client" in message
    assert credentials[1] not in message
    assert _requests(bol) == {"POST /token": {"401": 1}}  # a refused login is not retried


def test_inactive_account(bol: EmulatorHandle, set_connection: Any) -> None:
    response = requests.post(
        f"{bol.base_url}/_emulator/faults", json={"kind": "inactive", "client_id": CLIENT_A[0]}, timeout=10
    )
    response.raise_for_status()
    ok, message = _test(set_connection, bol.base_url)
    assert not ok
    assert message.startswith("bol accepted the credentials but says the seller account is not active")
    assert "partner service" in message
    assert CLIENT_A[1] not in message
    assert _requests(bol)["GET /retailer/orders"] == {"403": 1}


def test_inactive_account_in_the_demo_too(bol: EmulatorHandle, set_connection: Any) -> None:
    requests.post(
        f"{bol.base_url}/_emulator/faults", json={"kind": "inactive", "client_id": CLIENT_A[0]}, timeout=10
    ).raise_for_status()
    ok, message = _test(set_connection, bol.base_url, environment="bol-demo")
    assert not ok
    assert "not active" in message


def test_bol_unreachable_answers_quickly(set_connection: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    ok, message = _test(set_connection, f"http://127.0.0.1:{port}")
    assert not ok
    assert message.startswith(f"Could not reach bol: no answer from 127.0.0.1:{port}.")
    assert "proxy or firewall" in message
    assert time.monotonic() - started < 10  # two quick attempts, not the sync's six
    assert CLIENT_A[1] not in message


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("password", CLIENT_A[1] + "\n", "Client Secret (password) ends with a line break"),
        ("password", CLIENT_A[1] + "\r\n", "Client Secret (password) ends with a line break"),
        ("password", " " + CLIENT_A[1], "Client Secret (password) starts with a space"),
        ("password", CLIENT_A[1] + " ", "Client Secret (password) ends with a space"),
        ("password", CLIENT_A[1][:4] + "\t" + CLIENT_A[1][4:], "Client Secret (password) contains a tab"),
        ("password", CLIENT_A[1] + "\u200b", "Client Secret (password) contains an invisible character"),
        ("login", CLIENT_A[0] + "\n", "Client ID (login) ends with a line break"),
    ],
)
def test_a_stray_space_or_newline_is_named_before_anything_is_sent(
    bol: EmulatorHandle, set_connection: Any, field: str, value: str, words: str
) -> None:
    ok, message = _test(set_connection, bol.base_url, **{field: value})
    assert not ok
    assert words in message
    assert "paste it again" in message
    assert "Nothing was sent to bol" in message
    assert message.startswith(f"This connection: the {words}")  # no made-up connection id of the form
    assert "bol_form" not in message
    assert CLIENT_A[1] not in message
    assert value.strip() not in message
    assert _requests(bol) == {}


def test_an_unknown_environment_is_named(bol: EmulatorHandle, set_connection: Any) -> None:
    ok, message = _test(set_connection, bol.base_url, environment="staging")
    assert not ok
    assert "extra 'environment' must be 'production'" in message
    assert "'bol-demo'" in message
    assert _requests(bol) == {}


def test_the_secret_is_never_in_a_message_even_when_bol_echoes_it(bol: EmulatorHandle, set_connection: Any) -> None:
    echo = f'{{"error":"invalid_client","error_description":"Bad client credentials {CLIENT_A[1]}"}}'
    requests.post(
        f"{bol.base_url}/_emulator/faults",
        json={"kind": "respond", "path_prefix": "/token", "status": 401, "body": echo},
        timeout=10,
    ).raise_for_status()
    ok, message = _test(set_connection, bol.base_url)
    assert not ok
    assert "does not accept this Client ID" in message
    assert CLIENT_A[1] not in message


def test_a_demo_hook_reads_the_demo_paths(bol: EmulatorHandle, set_connection: Any) -> None:
    set_connection(
        "bol_demo_hook",
        login=CLIENT_A[0],
        password=CLIENT_A[1],
        api_url=bol.base_url,
        login_url=f"{bol.base_url}/token",
        environment="bol-demo",
    )
    hook = BolRetailerHook("bol_demo_hook", token_cache=MemoryTokenCache(), state=MemorySharedState())
    orders = [order["orderId"] for page in hook.iter_order_pages() for order in page]
    assert orders == ["1043946570", "1042831430"]
    assert hook.get_order("1043946570")["orderItems"][0]["orderItemId"] == "6107434013"
    assert hook.get_process_status("7")["status"] == "SUCCESS"
    assert set(_requests(bol)) == {
        "POST /token",
        "GET /retailer-demo/orders",
        "GET /retailer-demo/orders/{order-id}",
        "GET /shared-demo/process-status/{process-status-id}",
    }
