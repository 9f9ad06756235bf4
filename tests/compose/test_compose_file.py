"""docker-compose.yaml: valid for the Compose Specification and for Compose 1.29, and shaped as documented.

Static checks only (no Docker engine): `check-jsonschema --builtin-schema vendor.compose-spec` and
`docker-compose config -q` (the client alone). Without check-jsonschema or docker-compose installed these
tests skip, under CI=true they fail. The end-to-end check is tests/compose/compose_check.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMPOSE_FILE = REPO / "docker-compose.yaml"
IN_CI = os.environ.get("CI", "").lower() == "true"
SERVERS = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer")
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|FERNET|JWT|TOKEN", re.IGNORECASE)


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is not installed (CI=true: required)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A .env as `make_env.sh --demo` writes it."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    result = subprocess.run(
        ["bash", str(HERE / "make_env.sh"), "--demo"], capture_output=True, text=True, check=True, timeout=60
    )
    path.write_text(result.stdout)
    return path


def _env_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value.strip("'")
    return values


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        _missing("docker-compose")
    assert binary is not None
    return binary


def _config(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Only the env file may set what the compose file interpolates (pytest's own environment sets some).
    referenced = set(re.findall(r"\$\{([A-Za-z0-9_]+)", COMPOSE_FILE.read_text()))
    env = {k: v for k, v in os.environ.items() if k not in referenced and not k.startswith("COMPOSE_")}
    return subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=env_file.parent,
        timeout=120,
        check=False,
    )


def test_the_compose_spec_schema_accepts_the_file() -> None:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        _missing("check-jsonschema")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_1_29_parses_it_with_the_demo_profile(demo_env: Path) -> None:
    result = _config(demo_env, "--profile", "demo", "config", "-q")
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_to_start_without_a_fernet_key(demo_env: Path, tmp_path: Path) -> None:
    without = tmp_path / ".env"
    without.write_text(
        "\n".join(
            line for line in demo_env.read_text().splitlines() if not line.startswith("AIRFLOW__CORE__FERNET_KEY")
        )
    )
    result = _config(without, "config", "-q")
    assert result.returncode != 0
    assert "AIRFLOW__CORE__FERNET_KEY" in result.stderr
    assert ".env.example" in result.stderr


def test_no_secret_is_written_in_the_file(compose: dict[str, Any], demo_env: Path) -> None:
    text = COMPOSE_FILE.read_text()
    for key, value in _env_values(demo_env).items():
        if SECRET_NAMES.search(key) and len(value) >= 8:
            assert value not in text, key
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if SECRET_NAMES.search(key) and not key.endswith("_FILE"):
                assert str(value).startswith("${"), f"{name}: {key} must come from .env, not be written here"
        for value in environment.values():
            for password in re.findall(r'"password":\s*"([^"]*)"', str(value)):
                assert password.startswith("${"), f"{name}: a connection password must come from .env"
        assert "container_name" not in service, name


def test_every_service_has_a_healthcheck_but_the_init_job(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "airflow-init":
            assert "healthcheck" not in service
        else:
            assert service.get("healthcheck", {}).get("test"), name


def test_servers_wait_for_what_they_need(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVERS:
        service = services[name]
        assert service["init"] is True, name
        depends = service["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        for backing in ("postgres", "redis", "warehouse-db"):
            assert depends[backing]["condition"] == "service_healthy", (name, backing)
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_workers_scale_and_only_the_api_server_is_published(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"airflow-apiserver"}
    assert services["airflow-apiserver"]["ports"] == ["${AIRFLOW_API_PORT:-8080}:8080"]


def test_celery_postgres_redis_and_the_execution_api(compose: dict[str, Any]) -> None:
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:${")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW__CORE__FERNET_KEY:?")
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW__API_AUTH__JWT_SECRET:?")
    services = compose["services"]
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16}"
    assert services["redis"]["image"] == "${REDIS_IMAGE:-redis:7}"
    assert services["airflow-scheduler"]["build"]["args"]["BASE_IMAGE"].endswith(":-apache/airflow:3.3.2-python3.12}")


def test_shared_rate_budget_staging_and_warehouse(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["airflow-worker"]["environment"]
    shared = env["AIRFLOW__BOLSYNC__SHARED_STATE_URL"]
    assert re.fullmatch(r"redis://redis:6379/\d+", shared)
    assert shared.rsplit("/", 1)[1] != env["AIRFLOW__CELERY__BROKER_URL"].rsplit("/", 1)[1]  # not the broker's db
    staging = env["BOLSYNC_STAGING_DIR"]
    for name in SERVERS:
        assert f"bolsync-staging:{staging}" in services[name]["volumes"], name
    assert "bolsync-staging" in compose["volumes"]
    warehouse = json.loads(re.sub(r"\$\{[^}]*\}", "x", env["AIRFLOW_CONN_BOL_WAREHOUSE"]))
    assert warehouse["conn_type"] == "postgres"
    assert warehouse["host"] == "warehouse-db"
    assert services["warehouse-db"]["environment"]["POSTGRES_DB"] == warehouse["schema"]
    assert services["warehouse-db"]["volumes"] != services["postgres"]["volumes"]


def test_the_run_notes_reach_the_api_server_as_the_admin(compose: dict[str, Any]) -> None:
    env = compose["services"]["airflow-worker"]["environment"]
    note_api = json.loads(
        re.sub(
            r"\$\{([A-Z_]+)(:-([^}]*))?[^}]*\}", lambda m: m.group(3) or "x", env["AIRFLOW_CONN_BOLSYNC_AIRFLOW_API"]
        )
    )
    assert note_api == {"conn_type": "http", "host": "http://airflow-apiserver:8080", "login": "admin", "password": "x"}
    assert "${AIRFLOW_ADMIN_PASSWORD:?" in env["AIRFLOW_CONN_BOLSYNC_AIRFLOW_API"]


def test_the_demo_profile_adds_the_emulator_and_its_connections(compose: dict[str, Any], demo_env: Path) -> None:
    services = compose["services"]
    emulator = services["bol-emulator"]
    assert emulator["profiles"] == ["demo"]
    assert "--host 0.0.0.0 --port 8765" in " ".join(emulator["command"])
    assert all("profiles" not in s for name, s in services.items() if name not in ("bol-emulator", "statsd-exporter"))
    connections = json.loads(_env_values(demo_env)["BOLSYNC_CONNECTIONS"])
    assert set(json.loads(_env_values(demo_env)["BOLSYNC_ACCOUNTS"])) == set(connections)
    for connection in connections.values():
        assert connection["conn_type"] == "bol_retailer"
        assert connection["extra"]["api_url"] == "http://bol-emulator:8765"
        assert connection["extra"]["login_url"] == "http://bol-emulator:8765/token"
        assert connection["extra"]["allow_insecure_http"] is True


def test_the_metrics_profile_adds_a_statsd_exporter_that_airflow_sends_to_only_when_asked(
    compose: dict[str, Any], demo_env: Path
) -> None:
    services = compose["services"]
    exporter = services["statsd-exporter"]
    assert exporter["profiles"] == ["metrics"]
    assert exporter["image"].startswith("${STATSD_EXPORTER_IMAGE:-prom/statsd-exporter:")
    assert "9125/udp" in exporter["expose"]
    for name in SERVERS:
        env = services[name]["environment"]
        assert env["AIRFLOW__METRICS__STATSD_ON"] == "${BOLSYNC_STATSD_ON:-false}", name
        assert env["AIRFLOW__METRICS__STATSD_HOST"] == "${BOLSYNC_STATSD_HOST:-statsd-exporter}", name
        assert env["AIRFLOW__METRICS__STATSD_PORT"] == "${BOLSYNC_STATSD_PORT:-9125}", name
    with_metrics = demo_env.parent / "metrics.env"
    with_metrics.write_text(demo_env.read_text() + "\nBOLSYNC_STATSD_ON=true\n")
    result = _config(with_metrics, "--profile", "demo", "--profile", "metrics", "config")
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert "statsd-exporter" in rendered["services"]
    worker = rendered["services"]["airflow-worker"]["environment"]
    assert worker["AIRFLOW__METRICS__STATSD_ON"] == "true"
    assert worker["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"


def test_init_imports_the_shipped_pools_and_variables(compose: dict[str, Any]) -> None:
    script = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in script
    assert "airflow pools import /opt/airflow/bolsync/pools.json" in script
    assert "airflow variables import --action-on-existing-key skip /opt/airflow/bolsync/variables.json" in script
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY --chown=airflow:0 include/airflow/ /opt/airflow/bolsync/" in dockerfile
    for name in ("pools.json", "variables.json"):
        assert (REPO / "include" / "airflow" / name).is_file(), name
