"""`AnyAccount`: each request with whichever account can call soonest, listings spread over them."""

from __future__ import annotations

import time

import pytest

from ferry.github import AnyAccount, NoUsableTokens, RateLimitWaitTooLong
from ferry.ratelimit import LocalLimiter
from tests.github.conftest import ALICE, BAD, BOB, Sandbox


async def test_a_call_leaves_an_account_whose_wait_is_too_long_for_one_that_can_call(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    github = AnyAccount(sandbox.client([ALICE, BOB], limiter, max_wait_s=5))
    assert await github.accounts() == ["octo-alice", "octo-bob"]
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 3600})
    started = time.monotonic()
    answers = [await github.get("/repos/acme/tiny") for _ in range(4)]
    assert {a.account for a in answers} == {"octo-bob"}
    assert time.monotonic() - started < 2
    assert sandbox.sleeps == []
    assert (await sandbox.stats("octo-alice"))["secondary_limited"] <= 1  # found out once, then skipped


async def test_when_every_account_would_wait_too_long_the_shortest_wait_is_raised(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    github = AnyAccount(sandbox.client([ALICE, BOB], limiter, max_wait_s=5))
    await github.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 3600})
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-bob", "seconds": 120})
    with pytest.raises(RateLimitWaitTooLong) as raised:
        await github.get("/repos/acme/tiny")
    assert raised.value.key == "github:octo-bob"
    assert 100 <= raised.value.wait_s <= 121
    assert sandbox.sleeps == []


async def test_get_all_follows_every_page_and_spreads_them_over_the_accounts(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    github = AnyAccount(sandbox.client([ALICE, BOB], limiter))
    listing = await github.get_all("/repos/posthog/posthog/pulls", {"state": "all"})
    assert listing.requests == 3  # 250 pull requests, 100 a page
    assert len(listing.items) == 250
    assert len({p["number"] for p in listing.items}) == 250
    pages = [(r["account"], r["path"]) for r in sandbox.state.log if r["path"].endswith("/pulls")]
    assert len(pages) == 3
    assert {account for account, _ in pages} == {"octo-alice", "octo-bob"}
    streamed = [f["filename"] async for f in github.paginate("/repos/acme/tiny/pulls/1/files", {"per_page": 2})]
    files = await github.get_all("/repos/acme/tiny/pulls/1/files", {"per_page": 2})
    assert streamed == [f["filename"] for f in files.items]
    assert files.requests == -(-len(files.items) // 2) > 1


async def test_an_account_whose_tokens_are_refused_is_skipped(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = AnyAccount(sandbox.client([BAD, BOB], limiter))
    answers = [await github.get("/repos/acme/tiny") for _ in range(3)]
    assert {a.account for a in answers} == {"octo-bob"}
    only_bad = AnyAccount(sandbox.client([BAD], limiter))
    with pytest.raises(NoUsableTokens):
        await only_bad.get("/repos/acme/tiny")


async def test_a_pause_another_replica_ran_into_moves_this_replicas_calls_to_the_other_account(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    first = AnyAccount(sandbox.client([ALICE, BOB], limiter, max_wait_s=5))  # two replicas, one limiter
    second = AnyAccount(sandbox.client([ALICE, BOB], limiter, max_wait_s=5))
    await first.accounts()
    await second.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 3})
    while True:  # the first replica's calls until one runs into alice's limit (and reports it)
        asked = time.monotonic()
        answer = await first.get("/repos/acme/tiny")
        if (await sandbox.stats("octo-alice"))["secondary_limited"]:
            break
    assert answer.account == "octo-bob"  # the call that ran into it moved on instead of sitting it out
    assert time.monotonic() - asked < 1
    sent_before = len(sandbox.state.log)
    started = time.monotonic()
    answers = [await second.get("/repos/acme/tiny") for _ in range(4)]
    assert time.monotonic() - started < 1.5  # nobody waited out the 3 s pause
    assert {a.account for a in answers} == {"octo-bob"}
    assert [r["account"] for r in list(sandbox.state.log)[sent_before:]] == ["octo-bob"] * 4
