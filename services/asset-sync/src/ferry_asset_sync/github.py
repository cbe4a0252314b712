"""What asset-sync asks GitHub, on the shared client: which ref a `blob/...` URL names, and one
file at a ref, conditionally (the stored ETag; a 304 is free).

Every call goes through `ferry.github.AnyAccount`, as gh-seeder's do: it picks the pool's account
that can call soonest, fleet-wide (an account another replica found rate limited is skipped here
too), and moves a call off an account GitHub limits. Every call takes a slot of the account's
bucket (`github:<login>`, by the client) and then, right before it is sent, one of the job's own
bucket (`job:<id>`, one call per --delay seconds, fleet-wide): `PacedLimiter` does the second
inside the client's own acquire, for the job set by `paced()` (never for AnyAccount's questions to
the limiter, which take no tokens). Errors become
the registry's per-asset messages (`AssetError`); rate-limit waits too long to sit out
(`RateLimitWaitTooLong`) are left to the caller, which parks the step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.github import (
    AnyAccount,
    BadCredentials,
    CachedAnswer,
    Forbidden,
    GitHubClient,
    GitHubHTTPError,
    GitHubResponse,
    NotFound,
    NoUsableTokens,
    TokenPool,
)
from ferry.ratelimit import Limiter
from ferry_asset_sync.errors import AssetError
from ferry_asset_sync.urls import split_ref

RAW = "application/vnd.github.raw"
_PACE: ContextVar[tuple[str, float, float] | None] = ContextVar("asset_sync_pace", default=None)


@dataclass(frozen=True)
class File:
    """A file's bytes and ETag; `unchanged` when GitHub answered 304 to the stored ETag."""

    content: bytes
    etag: str | None
    unchanged: bool


class FileMissing(Exception):
    """GitHub answered 404 for the file (the repository itself may be missing too)."""


def _not_accessible(repo: str) -> AssetError:
    return AssetError(f"Repository {repo} not found or not accessible (GitHub answers 404 for a private repository "
                      "the token cannot see)")


def _refused(repo: str, exc: Exception) -> AssetError:
    if isinstance(exc, Forbidden):
        return AssetError(f"Access forbidden to repository {repo}: {exc.message}")
    return AssetError(f"GitHub authentication failed for repository {repo}: {exc}")


class PacedLimiter:
    """The fleet's limiter, plus a slot of the running job's bucket after every GitHub key's."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner

    async def acquire(self, key: str, tokens: int = 1, *, rate: float | None = None, burst: int | None = None,
                      max_wait_s: float | None = None) -> float:
        waited = await self.inner.acquire(key, tokens, rate=rate, burst=burst, max_wait_s=max_wait_s)
        pace = _PACE.get()
        if pace is not None and tokens > 0 and key.startswith("github:"):
            job_key, job_rate, cap = pace
            waited += await self.inner.acquire(job_key, 1, rate=job_rate, burst=1, max_wait_s=cap)
        return waited

    async def feedback(self, feedback: UpstreamFeedback) -> None:
        await self.inner.feedback(feedback)


@contextmanager
def paced(job_key: str, delay: float, max_wait_s: float) -> Iterator[None]:
    """GitHub calls made inside (in this task) take a slot of `job_key`'s bucket, one per `delay` s."""
    token = _PACE.set((job_key, 1.0 / delay, max_wait_s + delay) if delay > 0 else None)
    try:
        yield
    finally:
        _PACE.reset(token)


class GitHubAccess:
    """The GitHub access asset-sync pulls with: the pool's, and one per asset owner with a token.

    Which credentials an asset uses is the registry's rule (its owner's, else the pool); which
    account of the pool answers a call is `AnyAccount`'s, never decided here."""

    def __init__(self, http: httpx.AsyncClient, limiter: Limiter, pool: list[SecretStr],
                 owners: dict[str, SecretStr], *, max_wait_s: float, max_upstream_wait_s: float = 3600.0,
                 per_account: int = 1) -> None:
        self.http, self.limiter, self.max_wait_s = http, limiter, max_wait_s
        self.max_upstream_wait_s, self.per_account = max_upstream_wait_s, per_account
        self._pool_tokens = pool
        self._owner_tokens = owners
        self._clients: dict[str | None, AnyAccount] = {}

    def client_for(self, owner: str | None) -> AnyAccount | None:
        """The owner's access when the owner has a token, else the pool's; None when neither exists."""
        key = owner if owner is not None and owner in self._owner_tokens else None
        tokens = [self._owner_tokens[key]] if key is not None else self._pool_tokens
        if not tokens:
            return None
        if key not in self._clients:
            client = GitHubClient(self.http, TokenPool(tokens), PacedLimiter(self.limiter),
                                  max_wait_s=self.max_wait_s, max_upstream_wait_s=self.max_upstream_wait_s)
            self._clients[key] = AnyAccount(client, per_account=self.per_account)
        return self._clients[key]


async def conditional_get(client: AnyAccount, path: str, params: dict[str, str] | None, *, accept: str,
                          etag: str | None, known: bytes | None) -> GitHubResponse:
    """GET with `If-None-Match: etag` when the content it stands for is known.

    The shared client sends If-None-Match from its own in-process cache and answers a 304 from it;
    an ETag kept in Postgres (from another replica or an earlier process) is given with its content.
    """
    stored = CachedAnswer(etag, known, {"etag": etag}) if etag and known is not None else None
    return await client.get(path, params, accept=accept, known=stored)


async def get_file(client: AnyAccount, repo: str, path: str, ref: str | None, *,
                   etag: str | None = None, known: bytes | None = None) -> File:
    """One file of `repo` at `ref` (None: the default branch); FileMissing on 404."""
    params = {"ref": ref} if ref else None
    try:
        answer = await conditional_get(client, f"/repos/{repo}/contents/{quote(path)}", params, accept=RAW,
                                       etag=etag, known=known)
    except NotFound:
        raise FileMissing(path) from None
    except (Forbidden, BadCredentials, NoUsableTokens) as exc:
        raise _refused(repo, exc) from None
    # Unchanged only for this asset's own kept version: a 304 to the shared in-process cache (another
    # asset naming the same file, pulled first) still brings this asset content it does not have.
    mine = etag is not None and known is not None
    return File(answer.content, answer.headers.get("etag"), answer.from_cache and mine)


async def repo_exists(client: AnyAccount, repo: str) -> bool:
    """Whether the repository is visible (to tell a missing file from a missing repository)."""
    try:
        await client.get(f"/repos/{repo}")
    except NotFound:
        return False
    except (Forbidden, BadCredentials, NoUsableTokens) as exc:
        raise _refused(repo, exc) from None
    return True


async def resolve_ref(client: AnyAccount, repo: str, after_blob: tuple[str, ...], url: str) -> tuple[str, str]:
    """(ref, path) of a `blob/...` URL, against the repository's branches, then its tags."""
    if not after_blob:
        raise AssetError(f"Lesson URL must include branch name after blob: {url}")
    for kind in ("heads", "tags"):
        names: set[str] = set()
        try:
            async for ref in client.paginate(f"/repos/{repo}/git/matching-refs/{kind}/{quote(after_blob[0])}"):
                names.add(str(ref.get("ref", "")).removeprefix(f"refs/{kind}/"))
        except NotFound:
            raise _not_accessible(repo) from None
        except (Forbidden, BadCredentials, NoUsableTokens) as exc:
            raise _refused(repo, exc) from None
        except GitHubHTTPError as exc:
            raise AssetError(f"Cannot read the branches of {repo}: {exc}") from None
        found = split_ref(after_blob, names)
        if found is not None:
            return found
    raise AssetError(f"Branch not found: {url} names no branch or tag of repository {repo}")


async def file_or_error(client: AnyAccount, repo: str, path: str, ref: str | None, *,
                        what: str = "README file", etag: str | None = None, known: bytes | None = None) -> File:
    """`get_file`, with a 404 told apart: the repository missing, or only the file."""
    try:
        return await get_file(client, repo, path, ref, etag=etag, known=known)
    except FileMissing:
        if not await repo_exists(client, repo):
            raise _not_accessible(repo) from None
        raise AssetError(f"{what} '{path}' not found in repository {repo}") from None
