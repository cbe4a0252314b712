"""Finding a real RabbitMQ and Postgres for the tests, and isolating each test on them.

Order (README.md, "Run it, test it"): `FERRY_TEST_AMQP_URL` / `FERRY_TEST_DATABASE_URL` when set; else the local
defaults when they answer; else testcontainers. When none works the run fails with a message
saying so: integration tests are never skipped silently.

Each test gets its own RabbitMQ virtual host (when `rabbitmqctl` can make one) and its own
Postgres database, so tests and parallel runs never see each other's queues or rows. The
benchmarks isolate themselves with the same helpers (`own_vhost`, `create_database`, `clean_env`;
see bench/_servers.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import asyncpg

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"


class InfraUnavailable(RuntimeError):
    """Neither the configured servers, the local ones nor testcontainers could be reached."""


@dataclass(frozen=True)
class Servers:
    amqp_url: str  # the server's URL (default vhost)
    admin_database_url: str  # a database to run CREATE DATABASE from
    local_rabbitmqctl: bool  # whether vhosts can be created with rabbitmqctl


@dataclass(frozen=True)
class Infra:
    """One test's own broker vhost and database."""

    amqp_url: str
    database_url: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a ferry process of this test runs with."""
        return clean_env(**{"FERRY_AMQP_URL": self.amqp_url, "FERRY_DATABASE_URL": self.database_url, **extra})


def clean_env(**ferry: str) -> dict[str, str]:
    """This process's environment without its own FERRY_* variables, JSON logs at INFO, then `ferry`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(FERRY_LOG_FORMAT="json", FERRY_LOG_LEVEL="INFO")
    env.update(ferry)
    return env


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


async def _check(amqp_url: str, database_url: str) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=10)
    await connection.close()
    conn = await asyncpg.connect(database_url, timeout=10)
    await conn.close()


@contextmanager
def find_servers() -> Iterator[Servers]:
    """The servers for this test session (started with testcontainers when nothing else answers)."""
    amqp = os.environ.get("FERRY_TEST_AMQP_URL")
    database = os.environ.get("FERRY_TEST_DATABASE_URL")
    with ExitStack() as stack:
        if amqp is None and _answers(LOCAL_AMQP, 5672):
            amqp = LOCAL_AMQP
        if database is None and _answers(LOCAL_DATABASE, 5432):
            database = LOCAL_DATABASE
        errors: list[str] = []
        if amqp is None or database is None:
            try:
                amqp, database = _start_containers(stack, amqp, database)
            except Exception as exc:
                errors.append(f"testcontainers: {exc!r}")
        if amqp is None or database is None:
            raise InfraUnavailable(
                "ferry's tests need a real RabbitMQ and Postgres: set FERRY_TEST_AMQP_URL and "
                "FERRY_TEST_DATABASE_URL, run them locally (127.0.0.1:5672 guest/guest, 127.0.0.1:5432 "
                "user postgres), or have Docker for testcontainers. " + "; ".join(errors)
            )
        asyncio.run(_check(amqp, database))
        local = urlsplit(amqp).hostname in {"127.0.0.1", "localhost"} and shutil.which("rabbitmqctl") is not None
        yield Servers(amqp, database, local)


def _start_containers(stack: ExitStack, amqp: str | None, database: str | None) -> tuple[str, str]:
    if amqp is None:
        from testcontainers.rabbitmq import RabbitMqContainer

        rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-alpine"))
        amqp = f"amqp://guest:guest@{rabbit.get_container_host_ip()}:{rabbit.get_exposed_port(5672)}/"
    if database is None:
        from testcontainers.postgres import PostgresContainer

        pg = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
        database = pg.get_connection_url()
    return amqp, database


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@contextmanager
def own_vhost(amqp_url: str, vhost: str) -> Iterator[str]:
    """Virtual host `vhost` made with rabbitmqctl (all rights for the URL's user), deleted at exit; its URL."""
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, urlsplit(amqp_url).username or "guest", ".*", ".*", ".*")
        yield _with_path(amqp_url, "/" + quote(vhost, safe=""))
    finally:
        _rabbitmqctl("delete_vhost", vhost)


async def create_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """Database `name` made afresh (a file copy of database `template` when given); its URL.

    A database of that name left over from an interrupted run is dropped first.
    """
    copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"{copy}')
    return _with_path(admin_url, "/" + name)


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` if it exists, closing its connections."""
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def isolated(servers: Servers) -> Iterator[Infra]:
    """A fresh vhost and database for one test, removed afterwards."""
    tag = uuid.uuid4().hex[:10]
    database = f"ferry_test_{tag}"
    with ExitStack() as stack:
        amqp_url = servers.amqp_url
        if servers.local_rabbitmqctl:
            amqp_url = stack.enter_context(own_vhost(servers.amqp_url, f"ferry-test-{tag}"))
        database_url = asyncio.run(create_database(servers.admin_database_url, database))
        stack.callback(lambda: asyncio.run(drop_database(servers.admin_database_url, database)))
        yield Infra(amqp_url, database_url)


async def _admin(database_url: str, *statements: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def drop_connections(infra: Infra) -> int:
    """Close every broker connection of this test's vhost, as a network cut or broker restart would."""
    vhost = urlsplit(infra.amqp_url).path.lstrip("/")
    from urllib.parse import unquote

    vhost = unquote(vhost) or "/"
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "vhost", "--no-table-headers"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    pids = [line.split("\t")[0] for line in listed.splitlines() if line.split("\t")[-1].strip() == vhost]
    for pid in pids:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: connection cut"],
                       check=False, capture_output=True, timeout=60)
    return len(pids)


async def query(infra: Infra, sql: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one statement on the test's database, on a connection of its own."""
    conn = await asyncpg.connect(infra.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
