"""Throwaway databases on the machine's PostgreSQL and claimed database indexes on its Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SERVER = os.environ.get("BOLSYNC_CLUSTER_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("BOLSYNC_CLUSTER_REDIS_URL", "redis://127.0.0.1:6379")
#: Redis database indexes the cluster may claim (0 and 15 are left to other users).
REDIS_INDEXES = range(1, 15)
CLAIM_KEY = "bolsync:cluster:claim"


class ServiceError(RuntimeError):
    """PostgreSQL or Redis is missing or has no room for the cluster."""


def database_url(name: str, server: str = POSTGRES_SERVER) -> str:
    """The URL of database ``name`` on ``server``."""
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


@contextmanager
def postgres_database(prefix: str, server: str = POSTGRES_SERVER) -> Iterator[str]:
    """A fresh database ``<prefix>_<random>``; its URL. Dropped afterwards, open connections forced out."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        raise ServiceError(f"PostgreSQL at {server}: {error}") from error
    try:
        yield database_url(name, server)
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_database(server: str = REDIS_SERVER) -> Iterator[str]:
    """An empty Redis database index, claimed with a marker key; its URL. Flushed afterwards."""
    import redis

    token = uuid.uuid4().hex
    for index in REDIS_INDEXES:
        client = redis.Redis.from_url(f"{server}/{index}")
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, token, nx=True):
                break
        except redis.RedisError as error:
            raise ServiceError(f"Redis at {server}: {error}") from error
        client.close()
    else:
        indexes = f"{REDIS_INDEXES.start}..{REDIS_INDEXES.stop - 1}"
        raise ServiceError(f"Redis at {server}: no empty database among indexes {indexes}")
    try:
        yield f"{server}/{index}"
    finally:
        if client.get(CLAIM_KEY) == token.encode():
            client.flushdb()
        client.close()
