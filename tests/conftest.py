"""Fixtures every test shares: a real RabbitMQ vhost and Postgres database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
