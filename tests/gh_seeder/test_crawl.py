"""A crawl end to end: sandbox as GitHub, the real rate limiter, broker and database."""

from __future__ import annotations

from tests.gh_seeder.harness import FINAL, sandbox_config, stack, start
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, query

REPO = "acme/widgets"


async def test_crawl_stores_every_pull_request_and_a_rerun_fetches_none_again(infra: Infra) -> None:
    config = sandbox_config((REPO, 105), ("acme/gadgets", 5))
    async with stack(infra, config) as box, EventTap.open(infra) as tap:
        first = await start(tap, repo=REPO)
        done = await tap.until(first, FINAL, timeout=60)
        hits_after_first = box.detail_hits()
        stats_first = box.stats()
        second = await start(tap, repo="ACME/Widgets")  # another spelling of the same repository
        again = await tap.until(second, FINAL, timeout=30)
        hits_after_second = box.detail_hits()
        expected = box.expected(REPO)
    assert done.type == "completed", done.message
    assert (done.total, done.succeeded, done.failed, done.skipped) == (105, 105, 0, 0)
    result = done.detail["result"]
    assert result["found"] == 105
    assert result["reviews"] == sum(e["reviews"] for e in expected.values())
    assert result["commits"] == sum(e["commits"] for e in expected.values())
    assert result["files"] == sum(e["files"] for e in expected.values())
    assert done.message.startswith("Seeded acme/widgets: 105 pull requests found, 105 fetched, 0 already fetched")
    # every pull request fetched exactly once, every one stored with its reviews, commits and files
    assert {n for (r, n) in hits_after_first if r == REPO} == set(expected)
    assert set(hits_after_first.values()) == {1}
    rows = await query(
        infra,
        "SELECT p.number, p.state, p.detailed,"
        " (SELECT count(*) FROM gh_seeder.reviews r WHERE r.repo = p.repo AND r.number = p.number) AS reviews,"
        " (SELECT count(*) FROM gh_seeder.commits c WHERE c.repo = p.repo AND c.number = p.number) AS commits,"
        " (SELECT count(*) FROM gh_seeder.files f WHERE f.repo = p.repo AND f.number = p.number) AS files"
        " FROM gh_seeder.pull_requests p WHERE p.repo = 'acme/widgets'",
    )
    stored = {r["number"]: {"state": r["state"], "reviews": r["reviews"], "commits": r["commits"],
                            "files": r["files"]} for r in rows}
    assert stored == expected
    assert all(r["detailed"] for r in rows)
    assert {"open", "closed", "merged"} <= {e["state"] for e in expected.values()}
    # the work was spread over the pool's three accounts
    accounts = stats_first["accounts"]
    assert all(accounts[a]["ok"] > 40 for a in ("octo-alice", "octo-bob", "octo-carol")), accounts
    # the re-run resumes: nothing is fetched again
    assert again.type == "completed", again.message
    assert (again.total, again.succeeded, again.skipped) == (105, 0, 105)
    assert hits_after_second == hits_after_first
    assert "105 already fetched" in again.message
