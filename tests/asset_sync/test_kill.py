"""A replica SIGKILLed mid-job: the job still finishes, with exact counts and no asset pulled twice
beyond the steps that were in flight."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.asset_sync.harness import (
    ALICE,
    BOB,
    DANA,
    FINAL,
    add_assets,
    api_calls,
    many_lessons,
    query,
    sandbox_config,
    start,
    with_repos,
)
from tests.asset_sync.test_fleet import contents_hits
from tests.gh_seeder.harness import rate_limiter, serve_sandbox
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, free_port
from tests.support.processes import ServiceProcess


async def done_count(infra: Infra) -> int:
    rows = await query(infra, "SELECT count(*) AS n FROM asset_sync.job_assets WHERE done_at IS NOT NULL")
    return int(rows[0]["n"])


@pytest.mark.slow
async def test_a_replica_killed_mid_job_and_restarted_finishes_it_exactly(infra: Infra, tmp_path: Path) -> None:
    repo, assets = many_lessons(60)
    async with serve_sandbox(with_repos(sandbox_config(latency_ms=20), repo)) as box, rate_limiter(infra), \
            EventTap.open(infra) as tap:
        env = infra.env(FERRY_GITHUB_API_URL=box.url, FERRY_GITHUB_TOKENS=f"{ALICE},{BOB}",
                        FERRY_ASSET_SYNC_OWNER_TOKENS=json.dumps({"dana": DANA}), FERRY_STEP_CONCURRENCY="4")
        replica = ServiceProcess("ferry-asset-sync", env, free_port(), tmp_path / "asset-sync.log")
        replica.start()
        try:
            await asyncio.to_thread(replica.wait_ready)
            await add_assets(infra, assets)
            job = await start(tap, delay=0, batch_size=10)
            async with asyncio.timeout(60):
                while await done_count(infra) < 15:
                    await asyncio.sleep(0.05)
            replica.kill()  # SIGKILL: steps in flight die with their transactions
            at_kill = await done_count(infra)
            replica.start()
            await asyncio.to_thread(replica.wait_ready)
            final = await tap.until(job, FINAL, timeout=90)
        finally:
            await asyncio.to_thread(replica.stop)
        hits = contents_hits(api_calls(box))
        rows = await query(infra, "SELECT sync_status, cleaning_status, count(*) AS n FROM asset_sync.registry_asset "
                                  "GROUP BY 1, 2")
    assert 15 <= at_kill < 60, "the kill came mid-job"
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed, final.skipped) == (60, 60, 0, 0)
    result = final.detail["result"]
    assert (result["found"], result["pulled"], result["cleaned"], result["failed"]) == (60, 60, 60, 0)
    assert {(r["sync_status"], r["cleaning_status"]): r["n"] for r in rows} == {("OK", "OK"): 60}
    assert len(hits) == 60
    twice = {path: n for path, n in hits.items() if n > 1}
    assert len(twice) <= 4, twice  # at most the steps in flight at the kill were pulled again
    assert set(twice.values()) <= {2}, twice
