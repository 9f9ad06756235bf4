"""The running DAG run's note, written from inside a task so the UI shows why the run failed.

Airflow 3.3's Task SDK cannot change the DAG run a task belongs to (its supervisor messages only create new
runs, and tasks have no metadata-database access), so the note goes through the public REST API:
``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}?update_mask=note``. The API server and a user allowed to edit
DAG runs come from the Airflow connection ``bolsync_airflow_api``, e.g.
``AIRFLOW_CONN_BOLSYNC_AIRFLOW_API='{"conn_type": "http", "host": "http://airflow-apiserver:8080",
"login": "...", "password": "..."}'``. Without that connection no note is written (the task log still says it).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

import requests

log = logging.getLogger(__name__)

NOTE_CONN_ID = "bolsync_airflow_api"
#: The API refuses longer notes (``DAGRunPatchBody.note``).
MAX_NOTE_CHARS = 1000


def merged_note(current: str | None, line: str) -> str:
    """``current`` with ``line`` appended once; only ``line`` when both would not fit."""
    current = (current or "").strip()
    line = line.strip()
    if line in current:
        return current
    note = f"{current}\n\n{line}" if current else line
    if len(note) > MAX_NOTE_CHARS:
        note = line if len(line) <= MAX_NOTE_CHARS else line[: MAX_NOTE_CHARS - 1] + "…"
    return note


def api_base_url(host: str, port: int | None = None, scheme: str | None = None) -> str:
    """The API server's base URL from a connection's host (a bare name or a URL), port and schema."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = f"{scheme or 'http'}://{host}"
    parts = urlsplit(host)
    if port and parts.port is None:
        host = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    return host


def add_to_run_note(context: Any, line: str, conn_id: str = NOTE_CONN_ID, timeout: float = 10.0) -> bool:
    """Append ``line`` to the note of the task's DAG run; True when the note holds it. Never raises.

    Tasks running at the same time that add different lines can overwrite each other's (the API has no
    compare-and-set); identical lines are written once.
    """
    ti = context["ti"]
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:
        log.info("No Airflow connection '%s': the note of DAG run %s is not set.", conn_id, ti.run_id)
        return False
    if not conn.host:
        log.warning("Airflow connection '%s' has no host (the API server's URL): no DAG run note.", conn_id)
        return False
    base = api_base_url(conn.host, conn.port, conn.schema)
    run_url = f"{base}/api/v2/dags/{quote(ti.dag_id, safe='')}/dagRuns/{quote(ti.run_id, safe='')}"
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {_token(session, base, conn, timeout)}"
            response = session.get(run_url, timeout=timeout)
            response.raise_for_status()
            current = response.json().get("note")
            note = merged_note(current, line)
            if note != (current or "").strip():
                response = session.patch(run_url, params={"update_mask": "note"}, json={"note": note}, timeout=timeout)
                response.raise_for_status()
    except (requests.RequestException, ValueError, KeyError) as error:
        log.warning("Could not set the note of DAG run %s through '%s': %s", ti.run_id, conn_id, error)
        return False
    log.info("Note of DAG run %s: %s", ti.run_id, note)
    return True


def _token(session: requests.Session, base: str, conn: Any, timeout: float) -> str:
    """A JWT for the connection's user (``POST /auth/token``)."""
    response = session.post(
        f"{base}/auth/token", json={"username": conn.login, "password": conn.password}, timeout=timeout
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
