"""What the seeder needs from GitHub, as a small interface (`PullSource`), and its implementation
on the shared GitHub client (`GitHubSource`).

Keeping the interface this narrow lets the job logic be read (and tested) apart from HTTP: a list
page of pull requests with the next page's URL, and one pull request with its reviews, commits
and files. Every call goes through `ferry.github.GitHubClient`, which asks the fleet's rate limiter
before each request and spreads calls over the token pool's accounts.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from ferry.github import GitHubClient, GitHubError, GitHubResponse, NoUsableTokens, RateLimitWaitTooLong
from ferry.github.pagination import PER_PAGE

LIST_PARAMS = {"state": "all", "sort": "created", "direction": "desc", "per_page": "100"}
"""Every state (open, closed and merged), newest first, GitHub's largest page."""


@dataclass(frozen=True)
class ListPage:
    """One page of `GET /repos/{owner}/{name}/pulls`."""

    items: list[dict[str, Any]]
    next_url: str | None
    requests: int = 1


@dataclass(frozen=True)
class PullData:
    """One pull request's details with everything the seeder stores about it."""

    pull: dict[str, Any]
    reviews: list[dict[str, Any]]
    commits: list[dict[str, Any]]
    files: list[dict[str, Any]]
    requests: int = 0


@dataclass(frozen=True)
class DroppedToken:
    """A token GitHub refused (401): it left the pool; the job reports it and carries on."""

    label: str
    login: str | None
    reason: str
    tokens_left: int


class PullSource(Protocol):
    """Where pull requests come from (GitHub, through the shared client)."""

    async def list_page(self, repo: str, url: str | None) -> ListPage:
        """The first page of `repo`'s pull requests (url None), or the page at `url` (a Link rel=next)."""
        ...

    async def pull(self, repo: str, number: int) -> PullData:
        """Pull request `number` of `repo` with its reviews, commits and files (every page)."""
        ...

    def take_dropped(self) -> list[DroppedToken]:
        """Tokens that left the pool since the last call (each reported once)."""
        ...


@dataclass
class DropLog:
    """Collects refused tokens as the pool reports them, until a step takes them for its events."""

    pending: list[DroppedToken] = field(default_factory=list)

    def add(self, dropped: DroppedToken) -> None:
        self.pending.append(dropped)

    def take(self) -> list[DroppedToken]:
        taken, self.pending = self.pending, []
        return taken


class GitHubSource:
    """`PullSource` on the shared `GitHubClient`, spreading calls over the pool's accounts.

    Each call goes to the account with the fewest calls of this process in flight (round robin
    among equals) that is not known to be rate limited, and at most `concurrency` calls per
    account are in flight at once in this process (GitHub asks for serial requests). When an
    account would make the call wait longer than the client's cap, the call moves to another
    account; when every account would, the shortest of those waits is raised
    (`RateLimitWaitTooLong`) so the step can be parked.
    """

    def __init__(self, client: GitHubClient, drops: DropLog, *, concurrency: int = 1) -> None:
        self.client = client
        self.drops = drops
        self.concurrency = concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._busy: dict[str, int] = {}
        self._turn = itertools.count()

    async def list_page(self, repo: str, url: str | None) -> ListPage:
        response = await self._get(url or f"/repos/{repo}/pulls", None if url else LIST_PARAMS)
        items = response.json()
        if not isinstance(items, list):
            raise GitHubError(f"unexpected answer listing pull requests of {repo}: {type(items).__name__}")
        return ListPage(items, response.links.get("next"), 1)

    async def pull(self, repo: str, number: int) -> PullData:
        base = f"/repos/{repo}/pulls/{number}"
        try:
            async with asyncio.TaskGroup() as group:  # one failing cancels the others: no wasted calls
                detail_task = group.create_task(self._get(base, None))
                reviews_task, commits_task, files_task = (
                    group.create_task(self._all(f"{base}/{what}")) for what in ("reviews", "commits", "files")
                )
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None
        detail, reviews, commits, files = (
            detail_task.result(), reviews_task.result(), commits_task.result(), files_task.result()
        )
        pull = detail.json()
        if not isinstance(pull, dict) or "number" not in pull:
            raise GitHubError(f"unexpected answer for pull request {repo}#{number}")
        requests = 1 + reviews[1] + commits[1] + files[1]
        return PullData(pull, reviews[0], commits[0], files[0], requests)

    def take_dropped(self) -> list[DroppedToken]:
        return self.drops.take()

    async def _all(self, path: str) -> tuple[list[dict[str, Any]], int]:
        """Every item of a listing (Link rel=next), and how many requests it took."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        requests = 0
        while url is not None:
            page = await self._get(url, {"per_page": str(PER_PAGE)} if requests == 0 else None)
            requests += 1
            body = page.json()
            if not isinstance(body, list):
                raise GitHubError(f"unexpected answer for {path}: {type(body).__name__}")
            items += body
            url = page.links.get("next")
        return items, requests

    async def _get(self, path: str, params: dict[str, str] | None) -> GitHubResponse:
        tried: dict[str, RateLimitWaitTooLong] = {}
        while True:
            login = await self._pick(set(tried))
            if login is None:
                raise min(tried.values(), key=lambda e: e.wait_s)
            slot = self._slots.setdefault(login, asyncio.Semaphore(self.concurrency))
            self._busy[login] = self._busy.get(login, 0) + 1
            try:
                async with slot:
                    return await self.client.get(path, params, account=login)
            except RateLimitWaitTooLong as exc:
                # Remember it here too (the fleet's limiter may be what holds the key), so the
                # next calls of this process go to the other accounts meanwhile.
                self.client.tokens.block(exc.key, time.time() + exc.wait_s, exc.reason)
                tried[login] = exc
            except NoUsableTokens:
                self.client.tokens.check_usable()  # none at all: raise; else this account's are gone
                tried.setdefault(login, RateLimitWaitTooLong(key=f"github:{login}", wait_s=0, waited_s=0,
                                                             cap_s=0, reason="its tokens left the pool"))
            finally:
                self._busy[login] -= 1

    async def _pick(self, exclude: set[str]) -> str | None:
        logins = [a for a in await self.client.accounts() if a not in exclude]
        if not logins:
            return None
        turn = next(self._turn) % len(logins)
        order = logins[turn:] + logins[:turn]
        now = time.time()
        return min(order, key=lambda a: (self.client.tokens.blocked_until(f"github:{a}") > now, self._busy.get(a, 0)))


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a TaskGroup ended with (the first of its group, unwrapped)."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
