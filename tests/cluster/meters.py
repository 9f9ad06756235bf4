"""Resource meters read around a backfill: CPU of the Airflow processes, of the PostgreSQL backends of the
metadata and warehouse databases, the metadata database's transactions and the Redis server's work."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from tests.cluster.cpu import BackendCpu, tree_cpu_seconds
from tests.cluster.stack import Cluster


class Meter(Protocol):
    def start(self, cluster: Cluster) -> None: ...

    def stop(self, cluster: Cluster) -> dict[str, float]: ...


class AirflowCpu:
    """CPU seconds of every Airflow process (components, Celery workers with their task processes), in
    total and per component (``cpu_seconds.<name>``; the workers summed as ``workers``)."""

    def start(self, cluster: Cluster) -> None:
        self.before = self._read(cluster)

    def stop(self, cluster: Cluster) -> dict[str, float]:
        after = self._read(cluster)
        parts = {f"cpu_seconds.{name}": after[name] - self.before.get(name, 0.0) for name in after}
        return {"airflow_cpu_seconds": sum(parts.values()), **parts}

    @staticmethod
    def _read(cluster: Cluster) -> dict[str, float]:
        readings: dict[str, float] = {}
        for name, pid in cluster.airflow_components().items():
            role = "workers" if name in cluster.worker_names() else name
            readings[role] = readings.get(role, 0.0) + tree_cpu_seconds([pid])
        return readings


class DatabaseCpu:
    """CPU seconds of the PostgreSQL backends serving the metadata and the warehouse database (sampled)."""

    def start(self, cluster: Cluster) -> None:
        self.names = {"metadata_db": _database(cluster.metadata_url), "warehouse_db": _database(cluster.warehouse_url)}
        self.sampler = BackendCpu(self.names.values()).start()
        self.before = self.sampler.totals()

    def stop(self, cluster: Cluster) -> dict[str, float]:
        totals = self.sampler.stop()
        return {f"{role}_cpu_seconds": totals[name] - self.before[name] for role, name in self.names.items()}


class MetadataActivity:
    """Transactions committed and rows written in the metadata database (``pg_stat_database``)."""

    QUERY = (
        "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted, tup_returned "
        "FROM pg_stat_database WHERE datname = current_database()"
    )

    def start(self, cluster: Cluster) -> None:
        self.before = self._read(cluster)

    def stop(self, cluster: Cluster) -> dict[str, float]:
        after = self._read(cluster)
        keys = ("metadata_db_transactions", "metadata_db_rows_written", "metadata_db_rows_read")
        return {key: float(a - b) for key, a, b in zip(keys, after, self.before, strict=True)}

    @classmethod
    def _read(cls, cluster: Cluster) -> tuple[int, ...]:
        import psycopg

        with psycopg.connect(cluster.metadata_url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(cls.QUERY).fetchone()
        return tuple(int(v) for v in row) if row else (0, 0, 0)


class RedisActivity:
    """Commands and CPU seconds of the whole Redis server (shared with anything else using it)."""

    def start(self, cluster: Cluster) -> None:
        self.before = self._read(cluster)

    def stop(self, cluster: Cluster) -> dict[str, float]:
        after = self._read(cluster)
        return {key: after[key] - self.before[key] for key in after}

    @staticmethod
    def _read(cluster: Cluster) -> dict[str, float]:
        import redis

        client = redis.Redis.from_url(cluster.broker_url)
        try:
            stats, cpu = client.info("stats"), client.info("cpu")
        finally:
            client.close()
        return {
            "redis_server_commands": float(stats["total_commands_processed"]),
            "redis_server_cpu_seconds": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        }


def default_meters() -> list[Meter]:
    return [AirflowCpu(), DatabaseCpu(), MetadataActivity(), RedisActivity()]


def _database(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
