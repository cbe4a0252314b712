"""GitHub's rate-limit rules, end to end: the client, a real in-process limiter, the sandbox."""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog.testing

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.github import GitHubClient, RateLimitWaitTooLong, TokenPool
from ferry.ratelimit import LocalLimiter
from tests.github.conftest import ALICE, ALICE2, BOB, Sandbox, make_limiter

ONE_ACCOUNT = {"login": "octo-alice", "tokens": [ALICE, ALICE2], "limit": 3, "window_s": 2}


def served(sandbox: Sandbox, path: str, status: int = 200) -> list[float]:
    return [r["t"] for r in sandbox.state.log if r["path"] == path and r["status"] == status]


class DeafLimiter(LocalLimiter):
    """A limiter that learns nothing from upstream answers: shows the client honours them itself."""

    async def feedback(self, feedback: UpstreamFeedback) -> None:
        return None


@pytest.mark.parametrize("deaf", [True, False], ids=["client-alone", "client-and-limiter"])
async def test_used_up_quota_waits_for_the_reset_without_sending(sandbox: Sandbox, deaf: bool) -> None:
    await sandbox.admin("/_sandbox/config", {"accounts": [ONE_ACCOUNT]})
    limiter = DeafLimiter(make_limiter().buckets.table) if deaf else make_limiter()
    github = sandbox.client([ALICE], limiter)
    await github.accounts()  # 1 of 3
    window_start = sandbox.state.log[0]["t"]
    answers = [await github.get("/repos/acme/tiny/pulls", {"page": n}) for n in range(1, 5)]
    assert all(a.status == 200 and not a.from_cache for a in answers)
    stats = await sandbox.stats()
    assert stats["primary_limited"] == 0  # nothing was sent while the quota was used up
    times = served(sandbox, "repos/acme/tiny/pulls")
    assert times[2] >= window_start + 2  # the third had to wait for the window's reset
    if deaf:
        assert answers[1].rate.remaining == 0
        assert max(sandbox.sleeps) >= 0.5


async def test_exhaustion_found_out_by_a_403_waits_until_reset(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    await sandbox.admin("/_sandbox/config", {"accounts": [ONE_ACCOUNT]})
    github = sandbox.client([ALICE], limiter)
    await github.accounts()
    for _ in range(2):  # someone else spends the rest of the account's quota
        await sandbox.raw("/user", token=ALICE2)
    reset_at = sandbox.state.quota("octo-alice").reset_at
    answer = await github.get("/repos/acme/tiny")
    assert answer.status == 200
    assert [s for _, s in sandbox.paths()[-2:]] == [403, 200]
    assert served(sandbox, "repos/acme/tiny")[0] >= reset_at
    stats = await sandbox.stats()
    assert (stats["primary_limited"], stats["after_notice"]) == (1, 0)


async def test_secondary_limit_with_retry_after_waits_at_least_that(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter)
    await github.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 1.2, "retry_after": True})
    assert (await github.get("/repos/acme/tiny")).status == 200
    limited, = served(sandbox, "repos/acme/tiny", 403)
    retried, = served(sandbox, "repos/acme/tiny")
    assert retried - limited >= 2.0  # Retry-After: 2 (whole seconds, rounded up)
    assert len(sandbox.sleeps) == 1
    assert 1.9 <= sandbox.sleeps[0] <= 2.0
    stats = await sandbox.stats()
    assert (stats["secondary_limited"], stats["after_notice"]) == (1, 0)


async def test_secondary_limit_without_retry_after_backs_off_exponentially(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    assert GitHubClient(sandbox.http, TokenPool([ALICE]), limiter).policy.min_secondary_s == 60  # GitHub's minute
    github = sandbox.client([ALICE], limiter, min_secondary_wait_s=0.1)
    await github.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 0.65, "retry_after": False,
                                                "status": 429})
    assert (await github.get("/repos/acme/tiny")).status == 200
    assert sandbox.sleeps == pytest.approx([0.1, 0.2, 0.4], abs=0.01)
    assert [s for _, s in sandbox.paths()[1:]] == [429, 429, 429, 200]
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 0.05, "retry_after": False})
    await github.get("/repos/acme/tiny")
    assert sandbox.sleeps[3:] == pytest.approx([0.1], abs=0.01)  # a success reset the backoff


async def test_wait_cap_raises_instead_of_sleeping(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter, max_wait_s=5)
    await github.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 3600})
    started = time.monotonic()
    with pytest.raises(RateLimitWaitTooLong) as secondary:
        await github.get("/repos/acme/tiny")
    assert time.monotonic() - started < 1
    assert sandbox.sleeps == []
    message = str(secondary.value)
    assert "github:octo-alice" in message
    assert "cap of 5s" in message
    assert "Retry-After 3600s" in message
    assert ALICE not in message

    await sandbox.admin("/_sandbox/reset", {})
    await sandbox.admin("/_sandbox/config", {"accounts": [{**ONE_ACCOUNT, "limit": 1, "window_s": 60}]})
    fresh = sandbox.client([ALICE], make_limiter(), max_wait_s=5)
    await fresh.accounts()  # spends the only call of the window
    with pytest.raises(RateLimitWaitTooLong, match="quota used up"):
        await fresh.get("/repos/acme/tiny")
    assert (await sandbox.stats())["primary_limited"] == 0


async def test_a_limited_account_hands_over_to_another(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE, BOB], limiter)
    await github.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 30})
    started = time.monotonic()
    answers = [await github.get("/repos/acme/tiny") for _ in range(3)]
    assert {a.account for a in answers} == {"octo-bob"}
    assert sandbox.sleeps == []
    assert time.monotonic() - started < 1
    assert (await sandbox.stats())["secondary_limited"] == 1


async def test_after_a_secondary_limit_no_worker_calls_the_account_before_it_ends(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    workers = [sandbox.client([ALICE], limiter), sandbox.client([ALICE2], limiter)]  # one limiter: the "fleet"
    for worker in workers:
        await worker.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 1.5})
    first = asyncio.create_task(workers[0].get("/repos/acme/tiny"))
    while (await sandbox.stats())["secondary_limited"] == 0:
        await asyncio.sleep(0.01)
    noticed = time.time()
    second = await workers[1].get("/repos/acme/tiny/pulls/1")  # this worker never saw the 403 itself
    await first
    stats = await sandbox.stats()
    assert (stats["secondary_limited"], stats["after_notice"]) == (1, 0)
    assert served(sandbox, "repos/acme/tiny/pulls/1")[0] >= noticed + 1.5
    assert second.account == "octo-alice"


async def test_requests_in_flight_during_one_secondary_limit_count_as_one_strike(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    github = sandbox.client([ALICE], limiter)
    await github.accounts()
    await sandbox.admin("/_sandbox/config", {"faults": {"latency_ms": 50}})  # all five arrive before any answer
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 0.25, "retry_after": False})
    answers = await asyncio.gather(*(github.get("/repos/acme/tiny/pulls", {"page": n}) for n in range(5)))
    assert all(a.status == 200 for a in answers)
    assert max(sandbox.sleeps) <= 0.2 + 0.01  # strikes 1 then 2, not one per request in flight


class RecordingLimiter(LocalLimiter):
    """A real limiter that also keeps what the client reported to it."""

    reports: list[UpstreamFeedback]

    async def feedback(self, feedback: UpstreamFeedback) -> None:
        self.__dict__.setdefault("reports", []).append(feedback)
        await super().feedback(feedback)


async def test_a_retry_after_of_years_is_capped_logged_and_parks_for_the_cap(sandbox: Sandbox) -> None:
    limiter = RecordingLimiter(make_limiter().buckets.table)
    github = sandbox.client([ALICE], limiter, max_wait_s=5, max_upstream_wait_s=3600)
    await github.accounts()
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-alice", "seconds": 1e9})  # Retry-After 1000000000
    with structlog.testing.capture_logs() as logs, pytest.raises(RateLimitWaitTooLong) as raised:
        await github.get("/repos/acme/tiny")
    assert raised.value.wait_s == pytest.approx(3600, abs=1)  # the step parks for the cap, not for 31 years
    assert "GitHub asked for Retry-After 1000000000s, capped at 3600s" in str(raised.value)
    capped = [e for e in logs if e["event"] == "github wait capped"]
    assert capped
    assert capped[0]["asked"] == "Retry-After 1000000000s, capped at 3600s"
    told = [r for r in limiter.reports if r.status == 403]
    assert told
    assert all(r.retry_after_s == 3600 for r in told)
    assert sandbox.sleeps == []
