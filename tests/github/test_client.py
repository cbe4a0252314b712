"""The GitHub client against the sandbox: pagination, ETags, retries, errors, the token pool."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from ferry.github import (
    GitHubClient,
    GitHubUnavailable,
    NotFound,
    NoUsableTokens,
    TokenPool,
    UnsafeURL,
    ValidationFailed,
)
from ferry.ratelimit import LocalLimiter
from tests.github.conftest import ALICE, ALICE2, BAD, BASE, BOB, Sandbox

SECRETS = (ALICE, ALICE2, BOB, BAD)


async def test_paginate_follows_link_headers_into_repositories_urls(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter)
    pulls = [p async for p in github.paginate("/repos/posthog/posthog/pulls", {"state": "all"})]
    assert len(pulls) == 250 == len({p["number"] for p in pulls})
    repo_id = (await github.get("/repos/posthog/posthog")).json()["id"]
    paths = [path for path, _ in sandbox.paths()]
    assert paths[:4] == ["user", "repos/posthog/posthog/pulls", f"repositories/{repo_id}/pulls",
                         f"repositories/{repo_id}/pulls"]
    assert all("per_page=100" in r["query"] for r in list(sandbox.state.log)[1:4])
    files = [f async for f in github.paginate("/repos/acme/tiny/pulls/1/files", {"per_page": 2})]
    assert len(files) == (await github.get("/repos/acme/tiny/pulls/1")).json()["changed_files"]


async def test_etag_revalidation_is_served_from_cache_and_spends_no_quota(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    github = sandbox.client([ALICE], limiter)
    first = await github.get("/repos/posthog/posthog/pulls/5")
    used = (await sandbox.stats())["quota_used"]
    again = await github.get("/repos/posthog/posthog/pulls/5")
    assert again.from_cache
    assert not first.from_cache
    assert again.json() == first.json()
    assert again.status == 200
    assert again.rate.remaining == first.rate.remaining
    stats = await sandbox.stats()
    assert stats["quota_used"] == used
    assert stats["not_modified"] == 1
    assert sandbox.paths()[-1] == ("repos/posthog/posthog/pulls/5", 304)


async def test_server_errors_are_retried_with_backoff_then_succeed(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter)
    await github.accounts()
    await sandbox.admin("/_sandbox/config", {"faults": {"fail_next": 2, "error_status": 502}})
    response = await github.get("/repos/acme/tiny")
    assert response.json()["full_name"] == "acme/tiny"
    assert [status for _, status in sandbox.paths()[1:]] == [502, 502, 200]
    assert len(sandbox.sleeps) == 2
    assert sandbox.sleeps[0] < sandbox.sleeps[1] + 0.02
    await sandbox.admin("/_sandbox/config", {"faults": {"fail_next": 10}})
    with pytest.raises(GitHubUnavailable, match="after 3 attempts"):
        await sandbox.client([ALICE], limiter, retries=2).get("/repos/acme/tiny")


async def test_connection_errors_are_retried(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    class Flaky(httpx.AsyncBaseTransport):
        """A network that drops the first two connections."""

        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner, self.drops = inner, 2

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.drops:
                self.drops -= 1
                raise httpx.ConnectError("connection refused", request=request)
            return await self.inner.handle_async_request(request)

    transport = Flaky(sandbox.http._transport)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        github = GitHubClient(http, TokenPool([ALICE]), limiter, retry_initial_s=0.01, sleep=sandbox.sleep)
        assert (await github.get("/repos/acme/tiny")).status == 200
    assert transport.drops == 0
    assert len(sandbox.sleeps) == 2


async def test_404_and_422_are_not_retried(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter)
    await github.accounts()
    with pytest.raises(NotFound) as missing:
        await github.get("/repos/acme/nothing/pulls")
    assert missing.value.status == 404
    assert missing.value.message == "Not Found"
    with pytest.raises(ValidationFailed) as invalid:
        await github.get("/repos/acme/tiny/pulls", {"state": "merged"})
    assert invalid.value.errors[0]["field"] == "state"
    assert (await sandbox.stats())["requests"] == 3  # /user, then one request each
    assert sandbox.sleeps == []


async def test_bad_token_leaves_the_pool_and_the_others_carry_on(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    removed = []
    pool = TokenPool([BAD, ALICE, BOB], on_removed=removed.append)
    github = GitHubClient(sandbox.http, pool, limiter, sleep=sandbox.sleep)
    with capture_logs() as logs:
        assert await github.accounts() == ["octo-alice", "octo-bob"]
        await sandbox.admin("/_sandbox/config", {"faults": {"revoked_tokens": [BOB]}})
        answers = [await github.get("/repos/acme/tiny") for _ in range(4)]
    assert {a.account for a in answers} == {"octo-alice"}
    assert [(r.label, r.login) for r in removed] == [("token #1", None), ("token #3", "octo-bob")]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["github token removed from the pool"] * 2
    assert not any(secret in repr(logs) for secret in SECRETS)
    await sandbox.admin("/_sandbox/config", {"faults": {"revoked_tokens": [ALICE, BOB]}})
    with pytest.raises(NoUsableTokens, match="no usable GitHub token left") as exc:
        await github.get("/repos/acme/tiny")
    assert not any(secret in str(exc.value) for secret in SECRETS)


async def test_all_tokens_bad_is_a_clear_error(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([BAD], limiter)
    with pytest.raises(NoUsableTokens, match=r"token #1: 401 Bad credentials.*FERRY_GITHUB_TOKENS"):
        await github.get("/repos/acme/tiny")
    with pytest.raises(NoUsableTokens, match="FERRY_GITHUB_TOKENS"):
        TokenPool(["", " "])


async def test_two_tokens_of_one_account_share_one_limiter_key(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE, ALICE2, BOB], limiter)
    with capture_logs() as logs:
        assert await github.accounts() == ["octo-alice", "octo-bob"]
    warning = next(e for e in logs if e["event"] == "github tokens share one account")
    assert warning["account"] == "octo-alice"
    assert warning["tokens"] == ["token #1", "token #2"]
    assert "share one rate limit" in warning["detail"]
    assert {t.key for t in github.tokens.tokens} == {"github:octo-alice", "github:octo-bob"}
    for _ in range(6):
        await github.get("/repos/acme/tiny")
    assert set(limiter.buckets.buckets) == {"github:octo-alice", "github:octo-bob"}
    alice, bob = await sandbox.stats("octo-alice"), await sandbox.stats("octo-bob")
    assert alice["requests"] == 2 + 3
    assert bob["requests"] == 1 + 3


async def test_tokens_never_leave_for_another_host(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter)
    with pytest.raises(UnsafeURL):
        await github.get("https://evil.example/repos/acme/tiny")
    assert sandbox.state.log == deque_empty()


def deque_empty() -> object:
    from collections import deque

    return deque()
