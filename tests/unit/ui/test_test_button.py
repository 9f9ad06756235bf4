"""The root middleware that lets the UI's Test button test a stored bol_retailer connection."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from bolsync.ui.test_button import TEST_PATH, BolTestButtonMiddleware, without_port


def _client() -> TestClient:
    app = FastAPI()

    @app.post(TEST_PATH)
    @app.post("/api/v2/connections")
    async def echo(request: Request) -> dict:
        body = await request.body()
        return {"body": json.loads(body), "length": request.headers["content-length"], "size": len(body)}

    app.add_middleware(BolTestButtonMiddleware)
    return TestClient(app)


FORM = {"connection_id": "shop", "conn_type": "bol_retailer", "login": "id", "password": "***", "host": "", "port": 0}


def test_the_unset_port_of_a_bol_retailer_test_is_dropped() -> None:
    answer = _client().post(TEST_PATH, json=FORM).json()
    assert answer["body"] == {k: v for k, v in FORM.items() if k != "port"}
    assert int(answer["length"]) == answer["size"]


def test_a_real_port_other_types_and_other_routes_pass_unchanged() -> None:
    client = _client()
    assert client.post(TEST_PATH, json={**FORM, "port": 8080}).json()["body"]["port"] == 8080
    assert client.post(TEST_PATH, json={**FORM, "conn_type": "http"}).json()["body"]["port"] == 0
    assert client.post("/api/v2/connections", json=FORM).json()["body"]["port"] == 0


def test_a_body_that_is_not_a_json_form_passes_unchanged() -> None:
    assert without_port(b"not json") == b"not json"
    assert without_port(b"[0]") == b"[0]"
    assert without_port(json.dumps({"conn_type": "bol_retailer"}).encode()) == b'{"conn_type": "bol_retailer"}'
