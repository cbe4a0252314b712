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

How a call picks its account: accounts known to be rate limited come last, then the one with the
fewest of this process's calls in flight, round robin among equals. "Known" is fleet-wide: besides
the limits this process was answered, each account's key is asked of the rate limiter (a question
that reserves nothing) at most every `probe_every_s`, so a pause another replica ran into moves
this process's calls to the other accounts too instead of waiting it out. At most
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
from ferry.ratelimit import WaitTooLong

PROBE_EVERY_S = 0.25
"""How often, at most, a process asks the limiter whether an account's key is paused."""
PROBE_WAIT_S = 0.5
"""A pause shorter than this is waited out on the account rather than moved away from."""


@dataclass(frozen=True)
class Listing:
    """Every item of a paginated listing, and how many requests it took."""

    items: list[Any]
    requests: int


class AnyAccount:
    """GET through `client` with the account that can call soonest; safe from many tasks at once."""

    def __init__(self, client: GitHubClient, *, per_account: int = 1, probe_every_s: float = PROBE_EVERY_S) -> None:
        if per_account < 1:
            raise ValueError(f"per_account must be at least 1, not {per_account}")
        self.client = client
        self.per_account = per_account
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._busy: dict[str, int] = {}
        self._turn = itertools.count()
        self.probe_every_s = probe_every_s
        self._probed: dict[str, float] = {}

    async def accounts(self) -> list[str]:
        """The pool's accounts (asks each unresolved token's login once)."""
        return await self.client.accounts()

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None,
                  cache: bool = True, known: CachedAnswer | None = None) -> GitHubResponse:
        """One GET (a path, or a URL of the API such as a Link's), with the soonest account."""
        too_long: dict[str, RateLimitWaitTooLong] = {}
        gone: set[str] = set()
        patient = False  # every account is limited: wait on the soonest after all (within max_wait_s)
        while True:
            login = await self._pick(set(too_long) | gone)
            if login is None:
                if not too_long:
                    self.client.tokens.check_usable()
                    raise NoUsableTokens("no account of the pool has a usable token")
                soonest = min(too_long.values(), key=lambda e: e.wait_s)
                if patient or soonest.waited_s + soonest.wait_s > self.client.max_wait_s:
                    raise soonest
                patient, too_long = True, {}
                continue
            others = not patient and len(set(await self.client.accounts()) - set(too_long) - gone) > 1
            slot = self._slots.setdefault(login, asyncio.Semaphore(self.per_account))
            self._busy[login] = self._busy.get(login, 0) + 1
            try:
                async with slot:
                    return await self.client.get(path, params, accept=accept, account=login, cache=cache,
                                                 known=known, max_limited_wait_s=PROBE_WAIT_S if others else None)
            except RateLimitWaitTooLong as exc:
                # Remember it in the pool too (the fleet's limiter may be what holds the key), so
                # this process's next calls go to the other accounts meanwhile.
                self.client.tokens.block(exc.key, self.client.clock() + exc.wait_s, exc.reason)
                too_long[login] = exc
            except NoUsableTokens:
                self.client.tokens.check_usable()  # none at all: raised; else only this account's are gone
                gone.add(login)
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
        if len(order) > 1:
            for login in order:
                await self._probe(login)
        now = self.client.clock()
        return min(order, key=lambda a: (max(0.0, self.client.tokens.blocked_until(f"github:{a}") - now),
                                         self._busy.get(a, 0)))

    async def _probe(self, login: str) -> None:
        """Ask the limiter (tokens=0: nothing reserved) whether `login`'s key is paused fleet-wide."""
        key, now = f"github:{login}", self.client.clock()
        recently = now - self._probed.get(key, float("-inf")) < self.probe_every_s
        if recently or self.client.tokens.blocked_until(key) > now:
            return
        self._probed[key] = now
        try:
            await self.client.limiter.acquire(key, tokens=0, max_wait_s=PROBE_WAIT_S)
        except WaitTooLong as exc:
            self.client.tokens.block(key, self.client.clock() + exc.wait_s, "paused fleet-wide by the rate limiter")


def _items(page: GitHubResponse, path: str) -> list[Any]:
    """A page's items: the body itself, or its `items` (search answers)."""
    body = page.json()
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return list(body["items"])
    if not isinstance(body, list):
        raise GitHubError(f"unexpected answer for {path}: expected a list, found {type(body).__name__}")
    return body
