"""A small client for the parts of the Airflow 3 REST API (``/api/v2``) and the emulator the demo uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

TERMINAL_STATES = frozenset({"success", "failed"})
IDEMPOTENT = frozenset({"GET", "PATCH", "PUT"})
#: Task instances read per request (the API's default page is 50, its cap 100).
TASK_INSTANCE_PAGE = 100


class ApiError(RuntimeError):
    """An unexpected answer from the Airflow REST API."""

    def __init__(self, response: requests.Response, action: str) -> None:
        self.status_code = response.status_code
        super().__init__(f"{action}: HTTP {response.status_code} {response.text[:500]}")


@dataclass
class AirflowClient:
    """Bearer-token client for one Airflow API server."""

    base_url: str
    timeout: float = 30.0
    attempts: int = 5
    session: requests.Session = field(default_factory=requests.Session)

    def login(self, username: str, password: str) -> None:
        """Get a JWT from ``POST /auth/token`` and use it for every later call."""
        response = self.session.post(
            f"{self.base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=self.timeout,
        )
        if response.status_code not in (200, 201):
            raise ApiError(response, f"login as {username}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, action: str, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        """Call ``/api/v2{path}`` and return the decoded JSON (None for an empty body).

        A busy standalone Airflow on SQLite stalls requests or answers 503 "Database is locked". Every
        call is retried on 503 (nothing was committed); idempotent ones (GET, PATCH, PUT) also on
        timeouts, connection errors and other 5xx answers. Other POST failures are not retried.
        """
        idempotent = method in IDEMPOTENT
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if last or not idempotent:
                    raise
                time.sleep(2 * attempt)
                continue
            retry = response.status_code == 503 or (idempotent and response.status_code >= 500)
            if retry and not last:
                time.sleep(2 * attempt)
                continue
            if response.status_code not in ok:
                raise ApiError(response, action)
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (no auth needed)."""
        response = self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's details, or None while it is not parsed yet."""
        result: dict[str, Any] | None = self.request("GET", f"/dags/{dag_id}", f"get DAG {dag_id}", ok=(200, 404))
        return None if result is None or "dag_id" not in result else result

    def import_errors(self) -> list[dict[str, Any]]:
        """Current DAG import errors."""
        result = self.request("GET", "/importErrors", "list import errors")
        return list(result.get("import_errors", []))

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG."""
        self.request("PATCH", f"/dags/{dag_id}", f"set {dag_id} paused={paused}", json={"is_paused": paused})

    def create_backfill(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/backfills``."""
        result: dict[str, Any] = self.request("POST", "/backfills", f"create backfill of {body['dag_id']}", json=body)
        return result

    def active_backfills(self, dag_id: str) -> list[dict[str, Any]]:
        """Backfills of a DAG that have not completed."""
        result = self.request("GET", "/backfills", f"list backfills of {dag_id}", params={"dag_id": dag_id})
        return [b for b in result.get("backfills", []) if not b.get("completed_at")]

    def cancel_backfill(self, backfill_id: int) -> None:
        """Cancel a backfill (its queued runs are not started)."""
        self.request("PUT", f"/backfills/{backfill_id}/cancel", f"cancel backfill {backfill_id}")

    def trigger(self, dag_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/dags/{dag_id}/dagRuns``."""
        result: dict[str, Any] = self.request("POST", f"/dags/{dag_id}/dagRuns", f"trigger {dag_id}", json=body)
        return result

    def clear_run(self, dag_id: str, run_id: str) -> None:
        """Clear a whole DAG run so it runs again."""
        self.request(
            "POST",
            f"/dags/{dag_id}/dagRuns/{run_id}/clear",
            f"clear {dag_id} {run_id}",
            json={"dry_run": False},
        )

    def fail_run(self, dag_id: str, run_id: str, note: str) -> None:
        """Mark a DAG run failed (its unfinished tasks stop being scheduled)."""
        self.request(
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}",
            f"mark {dag_id} {run_id} failed",
            json={"state": "failed", "note": note},
        )

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        """Up to 100 runs of a DAG, newest first, filtered by the API's query parameters."""
        query = {"limit": 100, "order_by": "-id", **params}
        result = self.request("GET", f"/dags/{dag_id}/dagRuns", f"list runs of {dag_id}", params=query)
        return list(result.get("dag_runs", []))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance (mapped ones included) of a DAG run, page after page."""
        found: list[dict[str, Any]] = []
        while True:
            result = self.request(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                f"list task instances of {run_id}",
                params={"limit": TASK_INSTANCE_PAGE, "offset": len(found), "order_by": "id"},
            )
            page = list(result.get("task_instances", []))
            found += page
            if len(page) < TASK_INSTANCE_PAGE or len(found) >= int(result.get("total_entries", 0)):
                return found


def iso(moment: datetime) -> str:
    """An ISO 8601 timestamp with its UTC offset, as the API expects."""
    return moment.isoformat()


def emulator_json(base_url: str, path: str, timeout: float = 5.0) -> Any:
    """GET a control endpoint of the emulator and return its decoded JSON, whatever its shape."""
    response = requests.get(f"{base_url}{path}", timeout=timeout)
    response.raise_for_status()
    return response.json()


def emulator_get(base_url: str, path: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET a control endpoint of the emulator that answers a JSON object."""
    result: dict[str, Any] = emulator_json(base_url, path, timeout)
    return result
