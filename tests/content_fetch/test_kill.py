"""A `ferry-content-fetch` replica SIGKILLed mid-job: restarted, it finishes the job with exact counts.

The sources in flight at the kill die with their transactions (no item, log or feed validator of
theirs committed); their steps are redelivered and fetched again, so nothing is lost or counted twice.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.content_fetch.harness import FINAL, by_source, feed_source, rate_limiter, serve_content, start
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, free_port, query
from tests.support.processes import ServiceProcess

FEEDS = [f"f{n:02d}" for n in range(12)]
ENTRIES = 10


async def logged_sources(infra: Infra) -> int:
    return int((await query(infra, "SELECT count(*) AS n FROM content_fetch.source_runs"))[0]["n"])


@pytest.mark.slow
async def test_a_replica_killed_mid_job_and_restarted_finishes_it_with_exact_counts(
    infra: Infra, tmp_path: Path
) -> None:
    async with serve_content() as box, rate_limiter(infra), EventTap.open(infra) as tap:
        # Twelve feeds answering in 0.5 s each, four at a time: the kill lands with sources in flight.
        await box.patch({"feeds": {name: {"entries": ENTRIES, "delay_s": 0.5} for name in FEEDS}})
        sources = [feed_source(box, name, name) for name in FEEDS]
        env = infra.env(FERRY_CONTENT_SOURCES=json.dumps(sources), FERRY_STEP_CONCURRENCY="4")
        replica = ServiceProcess("ferry-content-fetch", env, free_port(), tmp_path / "content-fetch.log")
        replica.start()
        try:
            await asyncio.to_thread(replica.wait_ready)
            job = await start(tap, type="current_affairs")
            async with asyncio.timeout(60):
                while await logged_sources(infra) < 3:
                    await asyncio.sleep(0.02)
            replica.kill()  # SIGKILL: the steps in flight die with their transactions
            at_kill = await logged_sources(infra)
            replica.start()
            await asyncio.to_thread(replica.wait_ready)
            final = await tap.until(job, FINAL, timeout=90)
        finally:
            await asyncio.to_thread(replica.stop)
        requests = {name: stats["requests"] for name, stats in box.state.stats()["feeds"].items() if name in FEEDS}
    assert 3 <= at_kill < len(FEEDS), "the kill came mid-job"
    assert final.type == "completed", final.message
    total = len(FEEDS) * ENTRIES
    assert (final.total, final.succeeded, final.failed, final.skipped) == (total, total, 0, 0)
    result = final.detail["result"]
    assert (result["total_items"], result["new_items"], result["duplicates"], result["error_count"]) == (total, total,
                                                                                                        0, 0)
    assert result["current_affairs_status"] == "✓ Completed"
    assert {name: log["new"] for name, log in by_source(result).items()} == dict.fromkeys(FEEDS, ENTRIES)
    headlines = await query(infra, "SELECT source, count(*) AS n FROM content_fetch.headlines GROUP BY source")
    assert {r["source"]: r["n"] for r in headlines} == dict.fromkeys(FEEDS, ENTRIES)
    assert len(await query(infra, "SELECT 1 FROM content_fetch.feed_validators")) == len(FEEDS)
    again = {name: n for name, n in requests.items() if n > 1}
    assert len(again) <= 4, again  # at most the sources in flight at the kill were fetched twice
    assert set(again.values()) <= {2}, again
