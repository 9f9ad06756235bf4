"""The FastAPI app the API server mounts under ``/bolsync``: the status page and its data as JSON.

Airflow mounts plugin apps without its authentication, so every route depends on :func:`airflow_user`:
Airflow's own ``get_user`` (the JWT of the ``Authorization: Bearer`` header, else the UI's ``_token`` cookie,
checked by the auth manager) and its permission to see plugin views. Nothing here parses a token itself.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

log = logging.getLogger(__name__)

URL_PREFIX = "/bolsync"
_bearer = HTTPBearer(auto_error=False)


async def airflow_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """The user Airflow authenticated (401/403 otherwise), allowed to see plugin views (403 otherwise)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user, requires_access_view

    user = await get_user(request, None, credentials)
    requires_access_view(AccessView.PLUGINS)(request, user)
    return user


def gather(now: datetime) -> dict[str, Any]:
    """Everything the page shows: the warehouse summary (or the last one), tokens and the planning DAGs' results."""
    from bolsync.ui.dag_results import last_results
    from bolsync.ui.snapshot import Snapshot, read_snapshot
    from bolsync.ui.token_state import token_state
    from bolsync_provider.errors import BolConfigError

    configured = _configured_accounts()
    try:
        from bolsync.warehouse.connection import warehouse_target

        snapshot = read_snapshot(warehouse_target(), now, configured, _history_start())
    except Exception as error:  # shown on the page: the operator must see why there is no summary
        log.warning("Status page: the warehouse could not be read: %s", error)
        shown = (
            str(error) if isinstance(error, FileNotFoundError | BolConfigError) else f"{type(error).__name__}: {error}"
        )
        snapshot = Snapshot(None, None, f"the warehouse could not be read ({shown})")
    accounts = [a["conn_id"] for a in snapshot.summary["accounts"]] if snapshot.summary else configured
    return {
        "snapshot": snapshot,
        "tokens": {conn_id: token_state(conn_id, now) for conn_id in accounts},
        "results": last_results(),
    }


def _configured_accounts() -> list[str]:
    from bolsync.runs import config
    from bolsync_provider.errors import BolConfigError

    try:
        return config.accounts(None)
    except BolConfigError as error:
        log.warning("Status page: %s", error)
        return []


def _history_start() -> date | None:
    from bolsync.runs.coverage_check import HISTORY_START_VARIABLE, history_start
    from bolsync_provider.config import get_variable
    from bolsync_provider.errors import BolConfigError

    try:
        return history_start(get_variable(HISTORY_START_VARIABLE))
    except BolConfigError as error:
        log.warning("Status page: %s", error)
        return None


def ui_base(request: Request) -> str:
    """The Airflow UI's base path (the mount's root path without ``/bolsync``)."""
    root = str(request.scope.get("root_path", ""))
    return root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else root


def create_app() -> FastAPI:
    """The app; no docs routes (they would be served without authentication)."""
    app = FastAPI(
        title="bolsync status", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(airflow_user)]
    )

    @app.get("/", response_class=HTMLResponse)
    def status_page(request: Request) -> HTMLResponse:
        from bolsync.ui.render import page

        now = datetime.now(UTC)
        data = gather(now)
        return HTMLResponse(page(data["snapshot"], now, data["tokens"], data["results"], ui_base(request)))

    @app.get("/summary.json")
    def summary_json() -> JSONResponse:
        now = datetime.now(UTC)
        data = gather(now)
        snapshot = data["snapshot"]
        age = snapshot.age(now)
        return JSONResponse(
            {
                "summary": snapshot.summary,
                "read_at": snapshot.read_at.isoformat() if snapshot.read_at else None,
                "age_seconds": age.total_seconds() if age is not None else None,
                "stale_because": snapshot.stale_because,
                "tokens": data["tokens"],
                "results": data["results"],
            }
        )

    return app
