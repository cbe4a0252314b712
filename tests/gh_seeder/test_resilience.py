"""Secondary limits and a killed seeder, against the real broker, database and rate limiter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.gh_seeder.harness import (
    FINAL,
    rate_limiter,
    sandbox_config,
    seeder_env,
    serve_sandbox,
    stack,
    start,
)
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, free_port, query
from tests.support.processes import ServiceProcess

REPO = "acme/widgets"


async def test_after_a_secondary_limit_no_request_reaches_the_account_until_the_pause_ends(infra: Infra) -> None:
    # Every 25th request of an account trips a 2 s secondary limit (403 with Retry-After).
    config = sandbox_config((REPO, 40), secondary_every=25, secondary_pause_s=2.0, secondary_retry_after=True)
    async with stack(infra, config) as box, EventTap.open(infra) as tap:
        job = await start(tap, repo=REPO)
        final = await tap.until(job, FINAL, timeout=60)
        stats = box.stats()["accounts"]
        stored = await query(infra, "SELECT count(*) AS n FROM gh_seeder.fetched_prs")
    assert final.type == "completed", final.message
    assert (final.succeeded, final.failed) == (40, 0)
    assert stored[0]["n"] == 40
    logins = ("octo-alice", "octo-bob", "octo-carol")
    assert sum(stats[a]["secondary_limited"] for a in logins) >= 3, stats
    # the sandbox counts requests that reached an account after its first 403 of a pause
    assert {a: stats[a]["after_notice"] for a in logins} == dict.fromkeys(logins, 0)


@pytest.mark.slow
async def test_a_seeder_killed_mid_crawl_finishes_after_a_restart_without_refetching(
    infra: Infra, tmp_path: Path
) -> None:
    config = sandbox_config((REPO, 110), latency_ms=5)
    async with serve_sandbox(config) as box, rate_limiter(infra), EventTap.open(infra) as tap:
        env = infra.env(**seeder_env(box), FERRY_STEP_CONCURRENCY="4")
        service = ServiceProcess("ferry-gh-seeder", env, free_port(), tmp_path / "seeder.log")
        service.start()
        try:
            await asyncio.to_thread(service.wait_ready)
            job = await start(tap, repo=REPO)
            async with asyncio.timeout(60):
                while (await query(infra, "SELECT count(*) AS n FROM gh_seeder.fetched_prs"))[0]["n"] < 30:
                    await asyncio.sleep(0.05)
            service.kill()  # SIGKILL: no goodbye, steps in flight die with their transactions
            fetched_at_kill = (await query(infra, "SELECT count(*) AS n FROM gh_seeder.fetched_prs"))[0]["n"]
            service.start()
            await asyncio.to_thread(service.wait_ready)
            final = await tap.until(job, FINAL, timeout=90)
        finally:
            await asyncio.to_thread(service.stop)
        hits = box.detail_hits()
        expected = box.expected(REPO)
    assert 30 <= fetched_at_kill < 110, "the kill came mid-crawl"
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded + final.skipped, final.failed) == (110, 110, 0)
    rows = await query(infra, "SELECT number FROM gh_seeder.fetched_prs")
    assert {r["number"] for r in rows} == set(expected)
    assert set(hits) == {(REPO, n) for n in expected}
    # only the pull requests in flight at the kill (at most one per concurrent step) were asked twice
    twice = {key: n for key, n in hits.items() if n > 1}
    assert len(twice) <= 4, twice
    assert set(twice.values()) <= {2}, twice
