"""`AnyAccount`: send each request with whichever account of the pool can call soonest.

This is the multi-account side of the GitHub client that every service uses (gh-seeder's crawl,
asset-sync's pulls) instead of picking accounts itself:

    pool = TokenPool(settings.github_tokens, on_removed=...)
    client = GitHubClient(http, pool, limiter, max_wait_s=5, max_upstream_wait_s=settings.upstream_max_wait_s)
    github = AnyAccount(client, per_account=1)

    answer = await github.get("/repos/posthog/posthog/pulls/1")       # a GitHubResponse
    files = await github.get_all("/repos/posthog/posthog/pulls/1/files", cache=False)
    files.items, files.requests                                       # every page, and what it cost
    async for ref in github.paginate("/repos/o/r/git/matching-refs/heads/main"):
        ...

How a call picks its account: accounts this process knows to be rate limited come last, then the
one with the fewest of this process's calls in flight, round robin among equals; at most
`per_account` calls of one account are in flight at once (GitHub asks for serial requests; the
fleet-wide rate is the rate limiter's). When the account would make the call wait longer than the
client's `max_wait_s`, the call moves to the next account; when every account would, the shortest of
those waits is raised as `RateLimitWaitTooLong` (a job step parks for `exc.wait_s`). An account
whose tokens all left the pool (401) is skipped; `NoUsableTokens` once no token is left at all.
Every page of a listing is one such call, so a long listing spreads over the accounts too.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from ferry.github.cache import CachedAnswer
from ferry.github.client import GitHubClient
from ferry.github.errors import GitHubError, NoUsableTokens, RateLimitWaitTooLong
from ferry.github.pagination import PER_PAGE
from ferry.github.response import GitHubResponse


@dataclass(frozen=True)
class Listing:
    """Every item of a paginated listing, and how many requests it took."""

    items: list[Any]
    requests: int


class AnyAccount:
    """GET through `client` with the account that can call soonest; safe from many tasks at once."""

    def __init__(self, client: GitHubClient, *, per_account: int = 1) -> None:
        if per_account < 1:
            raise ValueError(f"per_account must be at least 1, not {per_account}")
        self.client = client
        self.per_account = per_account
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._busy: dict[str, int] = {}
        self._turn = itertools.count()

    async def accounts(self) -> list[str]:
        """The pool's accounts (asks each unresolved token's login once)."""
        return await self.client.accounts()

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None,
                  cache: bool = True, known: CachedAnswer | None = None) -> GitHubResponse:
        """One GET (a path, or a URL of the API such as a Link's), with the soonest account."""
        too_long: dict[str, RateLimitWaitTooLong] = {}
        while True:
            login = await self._pick(set(too_long))
            if login is None:
                raise min(too_long.values(), key=lambda e: e.wait_s)
            slot = self._slots.setdefault(login, asyncio.Semaphore(self.per_account))
            self._busy[login] = self._busy.get(login, 0) + 1
            try:
                async with slot:
                    return await self.client.get(path, params, accept=accept, account=login, cache=cache,
                                                 known=known)
            except RateLimitWaitTooLong as exc:
                # Remember it in the pool too (the fleet's limiter may be what holds the key), so
                # this process's next calls go to the other accounts meanwhile.
                self.client.tokens.block(exc.key, self.client.clock() + exc.wait_s, exc.reason)
                too_long[login] = exc
            except NoUsableTokens:
                self.client.tokens.check_usable()  # none at all: raised; else only this account's are gone
                too_long.setdefault(login, RateLimitWaitTooLong(
                    key=f"github:{login}", wait_s=0, waited_s=0, cap_s=0, reason="its tokens left the pool"))
            finally:
                self._busy[login] -= 1

    async def paginate(self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None,
                       cache: bool = True) -> AsyncIterator[Any]:
        """Every item of a listing, page by page (`Link: rel="next"`; per_page=100 unless given)."""
        url: str | None = path
        first: Mapping[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        while url is not None:
            page = await self.get(url, first, accept=accept, cache=cache)
            for item in _items(page, path):
                yield item
            url, first = page.links.get("next"), None

    async def get_all(self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None,
                      cache: bool = True) -> Listing:
        """Every item of a listing at once, with the number of requests (pages) it took."""
        items: list[Any] = []
        url: str | None = path
        first: Mapping[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        requests = 0
        while url is not None:
            page = await self.get(url, first, accept=accept, cache=cache)
            requests += 1
            items += _items(page, path)
            url, first = page.links.get("next"), None
        return Listing(items, requests)

    async def _pick(self, exclude: set[str]) -> str | None:
        logins = [a for a in await self.client.accounts() if a not in exclude]
        if not logins:
            return None
        turn = next(self._turn) % len(logins)
        order = logins[turn:] + logins[:turn]
        now = self.client.clock()
        return min(order, key=lambda a: (self.client.tokens.blocked_until(f"github:{a}") > now, self._busy.get(a, 0)))


def _items(page: GitHubResponse, path: str) -> list[Any]:
    """A page's items: the body itself, or its `items` (search answers)."""
    body = page.json()
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return list(body["items"])
    if not isinstance(body, list):
        raise GitHubError(f"unexpected answer for {path}: expected a list, found {type(body).__name__}")
    return body
