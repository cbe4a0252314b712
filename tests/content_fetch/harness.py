"""content-fetch against the real broker and database: the content sandbox served over HTTP in this
process (the fake Open Trivia DB and feeds), the real rate-limiter service, and the service in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from ferry.contracts.content_fetch import FetchOptions
from ferry.ratelimit import LimitRule
from ferry.service import create_app as create_service_app
from ferry_content_fetch.main import SPEC
from ferry_content_fetch.settings import ContentFetchSettings
from ferry_rate_limiter.app import create_app as create_limiter_app
from ferry_rate_limiter.settings import RateLimiterSettings
from ferry_sandbox.content import ContentState, create_content_app
from ferry_sandbox.content_config import ContentConfig
from tests.runtime.harness import EventTap
from tests.support.asgi import serve_asgi
from tests.support.infra import Infra
from tests.support.messages import send_command

FINAL = {"completed", "failed", "cancelled", "rejected"}


@dataclass
class Box:
    url: str
    state: ContentState

    def trivia(self, site: str = "opentdb", **query: Any) -> str:
        return f"{self.url}/trivia/{site}/api.php"

    def feed(self, name: str) -> str:
        return f"{self.url}/feeds/{name}.xml"

    async def patch(self, patch: dict[str, Any]) -> None:
        async with httpx.AsyncClient() as client:
            (await client.post(f"{self.url}/_sandbox/config", json=patch)).raise_for_status()

    async def trivia_site(self, name: str, **config: Any) -> None:
        """Add (or change) trivia site `name`, e.g. `per_category=3, min_interval_s=0`."""
        await self.patch({"trivia": {name: config}})

    def trivia_stats(self, site: str) -> dict[str, Any]:
        return dict(self.state.stats()["trivia"][site])

    async def publish(self, feed: str, count: int) -> None:
        async with httpx.AsyncClient() as client:
            (await client.post(f"{self.url}/_sandbox/feeds/{feed}/publish", json={"count": count})).raise_for_status()


@asynccontextmanager
async def serve_content(config: ContentConfig | None = None) -> AsyncIterator[Box]:
    app = create_content_app(config)
    async with serve_asgi(app) as url:
        yield Box(url, app.state.content)


def trivia_source(box: Box, name: str, site: str = "opentdb", **options: Any) -> dict[str, Any]:
    return {"name": name, "kind": "opentdb", "url": box.trivia(site), "rate_key": f"http:trivia-{site}",
            "options": options}


def feed_source(box: Box, name: str, feed: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "kind": "feed", "url": box.feed(feed), "rate_key": "http:feeds", "options": options}


@asynccontextmanager
async def rate_limiter(infra: Infra) -> AsyncIterator[None]:
    """The real rate limiter, in this process: the feeds' bucket roomy, trivia sources at their own pace
    (one call per 5 s unless a source says otherwise, as the API allows)."""
    limiter = create_limiter_app(RateLimiterSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url,
        rate_limits={"http:feeds": LimitRule(rate=200, burst=50)},
    ))
    async with limiter.router.lifespan_context(limiter):
        yield


@asynccontextmanager
async def stack(infra: Infra, sources: list[dict[str, Any]], **settings: Any) -> AsyncIterator[None]:
    """The real rate limiter and the service, in this process."""
    service_settings = ContentFetchSettings(amqp_url=infra.amqp_url, database_url=infra.database_url,
                                            content_sources=sources, **settings)
    app = create_service_app(SPEC, service_settings)
    async with rate_limiter(infra), app.router.lifespan_context(app):
        yield


async def start(tap: EventTap, job_id: UUID | None = None, **options: Any) -> UUID:
    return await send_command(tap.channel, "content-fetch.fetch", FetchOptions(**options), job_id)


def by_source(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["source"]: entry for entry in result["log_details"]}
