"""The seeder's connections to the outside, made on first use and closed on shutdown.

The handler factory runs before the event loop serves anything, so the GitHub client (an
`httpx.AsyncClient` on FERRY_GITHUB_API_URL, the token pool of FERRY_GITHUB_TOKENS, the fleet's
`AmqpLimiter`) is built by the first step that needs it, once, under a lock.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable

import httpx

from ferry.github import AnyAccount, GitHubClient, TokenPool, TokenRemoved
from ferry.ratelimit import AmqpLimiter, Limiter
from ferry_gh_seeder import SERVICE
from ferry_gh_seeder.settings import SeederSettings
from ferry_gh_seeder.source import DropLog, DroppedToken, GitHubSource, PullSource

LimiterFactory = Callable[[SeederSettings, Callable[[bool], None]], Awaitable[Limiter]]


async def amqp_limiter(settings: SeederSettings, on_waiting: Callable[[bool], None]) -> Limiter:
    """The fleet-wide limiter (the rate-limiter service, over RabbitMQ)."""
    client = f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"
    return await AmqpLimiter.connect(
        settings.amqp_url.get_secret_value(), client=client, timeout_s=settings.gh_seeder_limiter_timeout_s,
        on_waiting=on_waiting,
    )


class Resources:
    """Builds the `PullSource` once; `aclose()` releases what was built."""

    def __init__(self, settings: SeederSettings, limiter: LimiterFactory = amqp_limiter) -> None:
        self.settings = settings
        self.limiter_factory = limiter
        self.drops = DropLog()
        self.on_waiting: list[Callable[[bool], None]] = []
        """Called with True when the rate limiter stops answering, False when it answers again."""
        self._lock = asyncio.Lock()
        self._source: GitHubSource | None = None
        self._http: httpx.AsyncClient | None = None
        self._limiter: Limiter | None = None

    async def source(self) -> PullSource:
        if self._source is not None:
            return self._source
        async with self._lock:
            if self._source is None:
                self._source = await self._build()
        return self._source

    async def _build(self) -> GitHubSource:
        # The pool first: no tokens at all fails here (NoUsableTokens) before anything is opened.
        pool = TokenPool(self.settings.github_tokens, on_removed=self._removed)
        limiter = self._limiter = await self.limiter_factory(self.settings, self._on_waiting)
        http = self._http = httpx.AsyncClient(base_url=self.settings.github_api_url, timeout=30)
        client = GitHubClient(http, pool, limiter, max_wait_s=self.settings.gh_seeder_max_inline_wait_s,
                              max_upstream_wait_s=self.settings.upstream_max_wait_s)
        github = AnyAccount(client, per_account=self.settings.gh_seeder_account_concurrency)
        return GitHubSource(github, self.drops)

    def _removed(self, event: TokenRemoved) -> None:
        self.drops.add(DroppedToken(event.label, event.login, event.reason, event.remaining_tokens))

    def _on_waiting(self, waiting: bool) -> None:
        for listener in self.on_waiting:
            listener(waiting)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        close = getattr(self._limiter, "close", None)
        if close is not None:
            await close()
        self._source = self._http = self._limiter = None
