"""The status page inside Airflow's own API app: mounted from the ``airflow.plugins`` entry point, refused
without Airflow's authentication, served with it (bearer JWT or the UI's cookie), never showing a token."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bolsync.runs.gaps import amsterdam_midnight
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.auth.cache import variable_key
from bolsync_provider.auth.tokens import parse_token_response
from tests.support.airflow_env import migrate_airflow_db
from tests.support.jwt_tokens import make_jwt, token_body

SHOP = "bol_shop"


@pytest.fixture(scope="module")
def airflow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, Path]]:
    """Airflow's API app (simple auth manager) with a DuckDB warehouse holding a two-day orders hole."""
    database = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    today = datetime.now(AMSTERDAM).date()
    with connect_warehouse(database) as conn:
        for offset in range(1, 12):
            if offset in (5, 6):
                continue
            day = today - timedelta(days=offset)
            conn.execute(
                "INSERT INTO bol.sync_coverage (stream, conn_id, retailer_id, window_start, window_end, dag_id, "
                "run_id, synced_at) VALUES ('orders', ?, '1234567', ?, ?, 'bol_orders_daily', ?, now())",
                [SHOP, amsterdam_midnight(day), amsterdam_midnight(day + timedelta(days=1)), f"r{offset}"],
            )
    saved = dict(os.environ)
    os.environ["AIRFLOW_CONN_BOL_WAREHOUSE"] = json.dumps({"conn_type": "duckdb", "host": str(database)})
    os.environ["AIRFLOW_VAR_BOLSYNC_ACCOUNTS"] = json.dumps([SHOP])
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin"
    migrate_airflow_db()
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    purge_cached_app()
    app = create_app()
    from airflow.api_fastapi.app import get_auth_manager

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    try:
        yield TestClient(app), token, database
    finally:
        purge_cached_app()
        os.environ.clear()
        os.environ.update(saved)


def test_unauthenticated_or_forged_requests_are_refused(airflow_app) -> None:
    client, token, _ = airflow_app
    assert client.get("/bolsync/").status_code == 401
    assert client.get("/bolsync/summary.json").status_code == 401
    forged = make_jwt(client_id="admin")  # a well-formed JWT Airflow did not sign
    assert client.get("/bolsync/", headers={"Authorization": f"Bearer {forged}"}).status_code == 403
    assert TestClient(client.app, cookies={"_token": forged}).get("/bolsync/").status_code == 403
    for unprotected in ("/bolsync/docs", "/bolsync/openapi.json", "/bolsync/redoc"):
        assert client.get(unprotected, headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_the_page_is_served_to_airflow_users_with_the_hole_its_backfill_and_no_token(airflow_app) -> None:
    from airflow.models.variable import Variable

    client, token, _ = airflow_app
    bol_token = parse_token_response(
        token_body(make_jwt(retailer_id="1234567", lifetime=300)).decode(),
        requested_at=time.time(),
        client_id="client-x",
        login_label="bol",
    )
    Variable.set(variable_key(SHOP), bol_token.to_json())

    page = client.get("/bolsync/", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    today = datetime.now(AMSTERDAM).date()
    first, last = (today - timedelta(days=6)).isoformat(), (today - timedelta(days=5)).isoformat()
    assert f"{first} .. {last}" in page.text
    assert f"--from-date {amsterdam_midnight(date.fromisoformat(first)).isoformat()}" in page.text
    assert 'href="/dags/bol_orders_daily"' in page.text
    assert "Token: valid, valid until" in page.text
    assert bol_token.value not in page.text

    by_cookie = TestClient(client.app, cookies={"_token": token}).get("/bolsync/summary.json")
    assert by_cookie.status_code == 200
    data = by_cookie.json()
    assert bol_token.value not in by_cookie.text
    assert data["tokens"][SHOP]["state"] == "valid"
    assert data["tokens"][SHOP]["retailer_id"] == "1234567"
    assert data["stale_because"] is None
    (account,) = data["summary"]["accounts"]
    orders = next(s for s in account["streams"] if s["stream"] == "orders")
    assert [(h["first_day"], h["last_day"], h["kind"]) for h in orders["holes"]] == [(first, last, "backfill")]


def test_the_ui_lists_the_page_in_its_navigation(airflow_app) -> None:
    client, token, _ = airflow_app
    plugins = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}).json()["plugins"]
    (plugin,) = [p for p in plugins if p["name"] == "bolsync"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/bolsync"
    (view,) = plugin["external_views"]
    assert (view["href"], view["destination"], view["url_route"]) == ("/bolsync/", "nav", "bolsync")


def test_the_last_coverage_check_and_plan_show_with_their_notes(airflow_app) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    client, token, _ = airflow_app
    now = datetime.now(AMSTERDAM)
    with create_session() as session:
        for n, note in enumerate(["Coverage check: no holes in 5 account streams.", "Coverage check: 2 open hole(s)"]):
            session.add(
                DagRun(
                    dag_id="bol_coverage_check",
                    run_id=f"manual__{n}",
                    run_type=DagRunType.MANUAL,
                    state=DagRunState.SUCCESS,
                    run_after=now + timedelta(days=1, hours=n),  # after any run another test made
                    note=note,
                )
            )
    data = client.get("/bolsync/summary.json", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(r["dag_id"], r["run_id"], r["state"], r["note"]) for r in data["results"]] == [
        ("bol_coverage_check", "manual__1", "success", "Coverage check: 2 open hole(s)")
    ]
    page = client.get("/bolsync/", headers={"Authorization": f"Bearer {token}"}).text
    assert 'href="/dags/bol_coverage_check/runs/manual__1"' in page
    assert "Coverage check: 2 open hole(s)" in page
