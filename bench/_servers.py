"""A benchmark's own servers: a RabbitMQ vhost, a Postgres database, ferry processes.

Every benchmark works on a vhost and a database of its own (removed afterwards, so it never
touches the default vhost or the `ferry` database) and runs ferry's services as real processes.
These are thin wrappers over the tests' helpers (tests/support), so tests and benchmarks isolate
themselves and start services one way:

    async with own_database(NAME) as database_url:
        with own_vhost(NAME) as amqp_url, running(
            "ferry-telemetry-janitor", {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url}
        ) as janitor:
            ...  # janitor.url, janitor.pid, janitor.logs()

`own_servers(NAME)` is both at once. The servers are FERRY_BENCH_AMQP_URL and
FERRY_BENCH_DATABASE_URL (bench/_common.py).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from bench._common import ADMIN_DATABASE_URL, AMQP_URL
from tests.support.infra import clean_env, create_database, drop_database, free_port
from tests.support.infra import own_vhost as _own_vhost
from tests.support.processes import ServiceFailed, ServiceProcess

__all__ = ["ServiceFailed", "ServiceProcess", "free_port", "own_database", "own_servers", "own_vhost", "running"]


def database_name(name: str) -> str:
    """The database of benchmark `name`: `ferry_bench_<name>`."""
    return f"ferry_bench_{name}"


@contextmanager
def own_vhost(name: str) -> Iterator[str]:
    """A fresh vhost `ferry-bench-<name>-<random>` on the bench broker, deleted at exit; its AMQP URL."""
    with _own_vhost(AMQP_URL, f"ferry-bench-{name.replace('_', '-')}-{uuid.uuid4().hex[:8]}") as amqp_url:
        yield amqp_url


@asynccontextmanager
async def own_database(name: str, *, template: str | None = None) -> AsyncIterator[str]:
    """Database `ferry_bench_<name>`, made afresh (a file copy of benchmark database `template` when
    given) and dropped at exit; its URL."""
    database = database_name(name)
    copy_of = database_name(template) if template else None
    url = await create_database(ADMIN_DATABASE_URL, database, template=copy_of)
    try:
        yield url
    finally:
        await drop_database(ADMIN_DATABASE_URL, database)


@asynccontextmanager
async def own_servers(name: str) -> AsyncIterator[tuple[str, str]]:
    """`own_vhost(name)` and `own_database(name)` together: (amqp_url, database_url)."""
    async with own_database(name) as database_url:
        with own_vhost(name) as amqp_url:
            yield amqp_url, database_url


@contextmanager
def running(
    script: str,
    env: Mapping[str, str],
    *args: str,
    port: int | None = None,
    ready_path: str = "/readyz",
    timeout: float = 60,
) -> Iterator[ServiceProcess]:
    """Console script `script` of this venv (with `args`) running with the FERRY_* settings `env`,
    answering 200 on `ready_path`; stopped at exit.

    It listens on `port` (a free one unless given; also passed as FERRY_HTTP_PORT), logs JSON at
    WARNING unless `env` says otherwise (log volume would cost the figures), to a file removed at
    exit. ServiceFailed, ending with the log's last lines, if it exits or is not ready in `timeout` s.
    """
    port = free_port() if port is None else port
    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as logs:
        environ = clean_env(**{"FERRY_LOG_LEVEL": "WARNING", **env})
        service = ServiceProcess(script, environ, port, Path(logs) / f"{script}-{port}.log", ready_path=ready_path)
        service.start(*args)
        try:
            service.wait_ready(timeout)
            yield service
        finally:
            service.stop()
