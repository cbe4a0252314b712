"""The seeder's connection to GitHub, opened by the service's lifespan and closed at shutdown.

`github_source` builds the `PullSource` the handler uses: an `httpx.AsyncClient` on
FERRY_GITHUB_API_URL, the token pool of FERRY_GITHUB_TOKENS and the fleet's rate limiter. With no
usable token the service still starts, and each job fails with the reason (as the command did).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from ferry.github import AnyAccount, GitHubClient, NoUsableTokens, TokenPool, TokenRemoved
from ferry.ratelimit import Limiter
from ferry_gh_seeder.settings import SeederSettings
from ferry_gh_seeder.source import DropLog, DroppedToken, GitHubSource, ListPage, PullData, PullSource


class NoTokens:
    """The source of a seeder without a usable token: every call says why."""

    def __init__(self, error: NoUsableTokens) -> None:
        self.error = error

    async def list_page(self, repo: str, url: str | None) -> ListPage:
        raise self.error

    async def pull(self, repo: str, number: int) -> PullData:
        raise self.error

    def take_dropped(self) -> list[DroppedToken]:
        return []


@asynccontextmanager
async def github_source(settings: SeederSettings, limiter: Limiter) -> AsyncIterator[PullSource]:
    """GitHub as a `PullSource`, spreading calls over the configured accounts; closed on exit."""
    drops = DropLog()

    def removed(event: TokenRemoved) -> None:
        drops.add(DroppedToken(event.label, event.login, event.reason, event.remaining_tokens))

    try:
        pool = TokenPool(settings.github_tokens, on_removed=removed)
    except NoUsableTokens as exc:
        yield NoTokens(exc)
        return
    async with httpx.AsyncClient(base_url=settings.github_api_url, timeout=30) as http:
        client = GitHubClient(http, pool, limiter, max_wait_s=settings.gh_seeder_max_inline_wait_s,
                              max_upstream_wait_s=settings.upstream_max_wait_s)
        yield GitHubSource(AnyAccount(client, per_account=settings.gh_seeder_account_concurrency), drops)
