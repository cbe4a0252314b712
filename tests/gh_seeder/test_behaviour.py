"""Dry run, projects, bad tokens and unknown projects, against the real services."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aio_pika

from ferry import topology
from ferry.contracts import CancelCommand
from tests.gh_seeder.harness import FINAL, REVOKED, TOKENS, sandbox_config, stack, start
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, query


async def test_dry_run_lists_and_counts_but_stores_nothing(infra: Infra, tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    async with stack(infra, sandbox_config(("acme/widgets", 30), ("acme/gadgets", 120)),
                     gh_seeder_checkpoint_dir=tmp_path) as box, EventTap.open(infra) as tap:
        job = await start(tap, project="acme", dry_run=True, checkpoint_file="cp.json")
        final = await tap.until(job, FINAL, timeout=30)
        paths = [entry["path"] for entry in box.state.log]
        unknown = await start(tap, project="nope")
        failed = await tap.until(unknown, FINAL, timeout=30)
    assert final.type == "completed", final.message
    assert final.total == 150
    assert final.succeeded == 0
    assert final.message == (
        "DRY RUN MODE - nothing fetched: 150 pull requests in 2 repositories, 150 would be fetched"
    )
    assert final.detail["result"]["repos_summary"]["acme/gadgets"]["found"] == 120
    # only the listings were asked for: one page of widgets, two of gadgets (the second by Link URL)
    listing = [p for p in paths if p != "user"]
    assert len(listing) == 3, paths
    assert all(p.endswith("/pulls") for p in listing), paths
    for table in ("pull_requests", "reviews", "commits", "files", "fetched_prs"):
        assert (await query(infra, f"SELECT count(*) AS n FROM gh_seeder.{table}"))[0]["n"] == 0, table
    assert not path.exists()
    # a project that is not configured fails its job, naming the ones that are
    assert failed.type == "failed"
    assert "unknown project 'nope'" in failed.message
    assert "acme" in failed.message


async def test_a_project_crawls_each_repository_and_a_refused_token_leaves_the_pool(infra: Infra) -> None:
    async with stack(infra, sandbox_config(("acme/widgets", 12), ("acme/gadgets", 9)),
                     tokens=[REVOKED, *TOKENS]) as box, EventTap.open(infra) as tap:
        job = await start(tap, project="acme")
        final = await tap.until(job, FINAL, timeout=30)
        failures = [e for e in tap.of(job) if e.type == "item_failed"]
        stats = box.stats()
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed) == (21, 21, 0)
    summary = final.detail["result"]["repos_summary"]
    assert {repo: s["fetched"] for repo, s in summary.items()} == {"acme/widgets": 12, "acme/gadgets": 9}
    assert len(failures) == 1
    assert "token #1" in failures[0].message
    assert "left the pool" in failures[0].message
    assert failures[0].detail["error"] == "bad_credentials"
    assert REVOKED not in final.model_dump_json() + failures[0].model_dump_json()
    assert stats["bad_credentials"] == 1  # asked once (who are you?), then never used again



async def test_a_cancelled_crawl_stops_and_a_new_job_resumes_it(infra: Infra) -> None:
    async with stack(infra, sandbox_config(("acme/widgets", 60), latency_ms=10)) as box, \
            EventTap.open(infra) as tap:
        job = await start(tap, repo="acme/widgets")
        async with asyncio.timeout(30):
            while (await query(infra, "SELECT count(*) AS n FROM gh_seeder.fetched_prs"))[0]["n"] < 8:
                await asyncio.sleep(0.05)
        exchange = await tap.channel.get_exchange(topology.COMMANDS.name)
        cancel = CancelCommand(job_id=job, requested_by="test")
        await exchange.publish(aio_pika.Message(cancel.model_dump_json().encode()), routing_key="gh-seeder.cancel")
        stopped = await tap.until(job, FINAL, timeout=30)
        await asyncio.sleep(0.5)  # steps still queued are dropped, not run
        fetched = (await query(infra, "SELECT count(*) AS n FROM gh_seeder.fetched_prs"))[0]["n"]
        hits_before = box.detail_hits()
        resumed = await start(tap, repo="acme/widgets")
        final = await tap.until(resumed, FINAL, timeout=30)
        hits_after = box.detail_hits()
    assert stopped.type == "cancelled"
    assert 8 <= fetched < 60
    assert final.type == "completed", final.message
    assert (final.succeeded, final.skipped) == (60 - fetched, fetched)
    assert all(hits_after[key] == hits_before[key] for key in hits_before if hits_before[key])  # no refetch
    assert set(hits_after.values()) == {1}
