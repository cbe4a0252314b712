"""What the seeder needs from GitHub, as a small interface (`PullSource`), and its implementation
on the shared GitHub client (`GitHubSource`).

Keeping the interface this narrow lets the job logic be read (and tested) apart from HTTP: a list
page of pull requests with the next page's URL, and one pull request with its reviews, commits
and files. Every call goes through `ferry.github.AnyAccount`, which spreads calls over the token
pool's accounts, and `GitHubClient`, which asks the fleet's rate limiter before each request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from ferry.github import AnyAccount, GitHubError

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
    """`PullSource` on the shared client, each request with whichever account can call soonest
    (`ferry.github.AnyAccount`). A crawl fetches every pull request's pages once, so none of its
    answers go into the client's ETag cache."""

    def __init__(self, github: AnyAccount, drops: DropLog) -> None:
        self.github = github
        self.drops = drops

    async def list_page(self, repo: str, url: str | None) -> ListPage:
        response = await self.github.get(url or f"/repos/{repo}/pulls", None if url else LIST_PARAMS, cache=False)
        items = response.json()
        if not isinstance(items, list):
            raise GitHubError(f"unexpected answer listing pull requests of {repo}: {type(items).__name__}")
        return ListPage(items, response.links.get("next"), 1)

    async def pull(self, repo: str, number: int) -> PullData:
        base = f"/repos/{repo}/pulls/{number}"
        try:
            async with asyncio.TaskGroup() as group:  # one failing cancels the others: no wasted calls
                detail_task = group.create_task(self.github.get(base, cache=False))
                reviews_task, commits_task, files_task = (
                    group.create_task(self.github.get_all(f"{base}/{what}", cache=False))
                    for what in ("reviews", "commits", "files")
                )
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None
        detail, reviews, commits, files = (
            detail_task.result(), reviews_task.result(), commits_task.result(), files_task.result()
        )
        pull = detail.json()
        if not isinstance(pull, dict) or "number" not in pull:
            raise GitHubError(f"unexpected answer for pull request {repo}#{number}")
        requests = 1 + reviews.requests + commits.requests + files.requests
        return PullData(pull, reviews.items, commits.items, files.items, requests)

    def take_dropped(self) -> list[DroppedToken]:
        return self.drops.take()


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a TaskGroup ended with (the first of its group, unwrapped)."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
