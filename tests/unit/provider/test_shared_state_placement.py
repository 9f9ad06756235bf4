"""A shared state that cannot serve the deployment is refused at its first use, saying what to set:
a one-host backend with an executor that runs tasks on several hosts, a SQLite file on a network filesystem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bolsync_provider.budget import shared_state as shared_state_module
from bolsync_provider.budget.shared_state import filesystems, open_shared_state, shared_state
from bolsync_provider.budget.shared_state.filesystems import filesystem_type, network_filesystem
from bolsync_provider.budget.shared_state.placement import executor_classes, multi_host_executors
from bolsync_provider.errors import BolConfigError
from tests.support.services import redis_url

CELERY_PATH = "airflow.providers.celery.executors.celery_executor.CeleryExecutor"
KUBERNETES_PATH = "airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor"
EDGE_PATH = "airflow.providers.edge3.executors.EdgeExecutor"


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No backend opened yet in this 'process', no URL or single-host setting configured."""
    monkeypatch.setattr(shared_state_module, "_states", {})
    monkeypatch.delenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW__BOLSYNC__SINGLE_HOST", raising=False)


@pytest.mark.parametrize(
    "executor",
    [
        "CeleryExecutor",
        "KubernetesExecutor",
        CELERY_PATH,
        KUBERNETES_PATH,
        EDGE_PATH,
        "LocalExecutor,CeleryExecutor",
        f"LocalExecutor, edge:{EDGE_PATH}",
        "CeleryKubernetesExecutor",
        "LocalExecutor;team1=KubernetesExecutor",
        "company.executors.AnythingElse",
    ],
)
def test_a_default_sqlite_state_is_refused_with_a_many_host_executor(
    executor: str, fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    with pytest.raises(BolConfigError) as raised:
        shared_state()
    message = str(raised.value)
    assert "[bolsync] shared_state_url is not set" in message
    assert "AIRFLOW__BOLSYNC__SHARED_STATE_URL" in message
    assert "redis://" in message
    assert "postgresql://" in message
    assert "[bolsync] single_host = true" in message
    assert repr(executor) in message


def test_an_explicit_sqlite_or_memory_state_is_refused_too(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    for url in (f"sqlite:///{tmp_path / 'state.sqlite'}", "memory://"):
        monkeypatch.setenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", url)
        with pytest.raises(BolConfigError, match="keeps the shared state on one host"):
            shared_state()


@pytest.mark.parametrize("executor", ["LocalExecutor", "airflow.executors.local_executor.LocalExecutor", ""])
def test_one_host_executors_keep_the_default(
    executor: str, fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    assert "SQLite" in shared_state().description


def test_stating_a_single_host_or_sharing_the_state_lets_a_celery_deployment_run(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SINGLE_HOST", "true")
    assert "SQLite" in shared_state().description
    monkeypatch.setattr(shared_state_module, "_states", {})
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SINGLE_HOST", "false")
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SHARED_STATE_URL", redis_url())
    assert shared_state().description.startswith("Redis")


def test_a_bad_single_host_value_is_named(fresh_process: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW__BOLSYNC__SINGLE_HOST", "maybe")
    with pytest.raises(BolConfigError, match=r"\[bolsync\] single_host must be true or false, got 'maybe'"):
        shared_state()


@pytest.mark.parametrize(
    ("variable", "value", "sign"),
    [
        ("AIRFLOW_IS_K8S_EXECUTOR_POD", "True", "KubernetesExecutor pod"),
        ("AIRFLOW__EDGE__API_URL", "https://airflow.example/edge_worker/v1/rpcapi", "[edge] api_url is set"),
    ],
)
def test_a_remote_worker_is_told_by_its_own_signs_whatever_its_executor_setting(
    variable: str, value: str, sign: str, fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setenv(variable, value)
    with pytest.raises(BolConfigError, match="tasks run on several hosts") as raised:
        shared_state()
    assert sign in str(raised.value)
    assert "[core] executor" not in str(raised.value)


def test_executor_values_are_read_as_airflow_reads_them() -> None:
    assert executor_classes(f"LocalExecutor, my:{CELERY_PATH};team=KubernetesExecutor") == [
        "LocalExecutor",
        "CeleryExecutor",
        "KubernetesExecutor",
    ]
    assert multi_host_executors("LocalExecutor") == []
    assert multi_host_executors(f"LocalExecutor,{EDGE_PATH}") == ["EdgeExecutor"]


def test_the_filesystem_of_a_path_is_its_longest_mount(tmp_path: Path) -> None:
    for folder in ("shared/smb share", "shared/local", "sharedness", "srv"):
        (tmp_path / folder).mkdir(parents=True)
    mounts = (
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        f"server:/exports {tmp_path}/shared nfs4 rw,relatime,vers=4.2 0 0\n"
        f"//nas/airflow {tmp_path}/shared/smb\\040share cifs rw 0 0\n"
        f"tmpfs {tmp_path}/shared/local tmpfs rw 0 0\n"
        f"/dev/sdb1 {tmp_path}/srv ext4 rw 0 0\n"
        f"nas:/srv {tmp_path}/srv nfs rw 0 0\n"
    )
    assert filesystem_type(tmp_path / "shared/bolsync/state.sqlite", mounts) == "nfs4"  # not created yet
    assert filesystem_type(tmp_path / "shared/smb share/state.sqlite", mounts) == "cifs"
    assert filesystem_type(tmp_path / "shared/local/state.sqlite", mounts) == "tmpfs"
    assert filesystem_type(tmp_path / "sharedness/state.sqlite", mounts) == "ext4"
    assert filesystem_type(tmp_path / "srv/state.sqlite", mounts) == "nfs"  # mounted over: the last one counts
    assert network_filesystem(tmp_path / "shared/local/x", mounts) is None
    assert network_filesystem(tmp_path / "srv/x", mounts) == "nfs"


def test_a_sqlite_state_on_a_network_filesystem_is_refused_at_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nnas:/airflow {tmp_path / 'nas'} nfs4 rw 0 0\n")
    (tmp_path / "nas").mkdir()
    monkeypatch.setattr(filesystems, "MOUNTS_FILE", mounts)
    state = open_shared_state(f"sqlite:///{tmp_path / 'nas' / 'bolsync' / 'state.sqlite'}")  # opens lazily
    with pytest.raises(BolConfigError) as raised:
        state.paused_for(["anything"])
    message = str(raised.value)
    assert "nfs4 network filesystem" in message
    assert "WAL" in message
    assert "shared_state_url" in message
    assert not (tmp_path / "nas" / "bolsync").exists()  # nothing created there
    local = open_shared_state(f"sqlite:///{tmp_path / 'local' / 'state.sqlite'}")
    assert local.paused_for(["anything"]) == 0


def test_this_machines_own_mounts_are_readable() -> None:
    assert filesystem_type(Path("/")) is not None or not filesystems.MOUNTS_FILE.exists()
