"""Fixtures every test shares: a real RabbitMQ vhost and Postgres database per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from tests.support.infra import Infra, InfraUnavailable, Servers, find_servers, isolated


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    try:
        with find_servers() as found:
            yield found
    except InfraUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def infra(servers: Servers) -> Iterator[Infra]:
    """This test's own vhost and database on the real servers."""
    with isolated(servers) as mine:
        yield mine


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Undo what a test's in-process `configure_logging` (a CLI command, a logging test) did: its
    handler writes to that test's captured stderr, which is closed once the test ends, and its bound
    `service` would label every later test's lines."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)
    structlog.contextvars.clear_contextvars()
