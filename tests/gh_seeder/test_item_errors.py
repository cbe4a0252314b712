"""One pull request failing, or a long rate-limit wait, does not stop the crawl.

GitHub is the sandbox; the seeder's view of it is wrapped so that one pull request answers 404
(as one deleted between the listing and its fetch would) and another meets a rate limit longer
than the seeder waits inline, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ferry.github import NotFound, RateLimitWaitTooLong
from ferry.service import create_app
from ferry_gh_seeder.main import spec
from ferry_gh_seeder.settings import SeederSettings
from ferry_gh_seeder.source import DroppedToken, ListPage, PullData, PullSource
from tests.gh_seeder.harness import FINAL, rate_limiter, sandbox_config, seeder_settings, serve_sandbox, start
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, query

REPO = "acme/widgets"


class Unlucky:
    """The real source, except that `gone` answers 404 and `limited` is rate limited once."""

    def __init__(self, inner: PullSource, gone: int, limited: int) -> None:
        self.inner, self.gone, self.limited = inner, gone, limited
        self.limited_once = False

    async def list_page(self, repo: str, url: str | None) -> ListPage:
        return await self.inner.list_page(repo, url)

    async def pull(self, repo: str, number: int) -> PullData:
        if number == self.gone:
            raise NotFound(404, "Not Found", path=f"/repos/{repo}/pulls/{number}")
        if number == self.limited and not self.limited_once:
            self.limited_once = True
            raise RateLimitWaitTooLong(key="github:octo-alice", wait_s=6, waited_s=0, cap_s=5, reason="secondary")
        return await self.inner.pull(repo, number)

    def take_dropped(self) -> list[DroppedToken]:
        return self.inner.take_dropped()


@asynccontextmanager
async def unlucky_seeder(settings: SeederSettings, gone: int, limited: int) -> AsyncIterator[None]:
    app = create_app(spec(wrap_source=lambda source: Unlucky(source, gone, limited)), settings)
    async with app.router.lifespan_context(app):
        yield


async def test_a_failing_pull_request_is_reported_and_a_rate_limited_one_is_parked(infra: Infra) -> None:
    async with serve_sandbox(sandbox_config((REPO, 12))) as box, rate_limiter(infra):
        numbers = sorted(box.expected(REPO))
        gone, limited = numbers[3], numbers[7]
        async with unlucky_seeder(seeder_settings(infra, box), gone, limited), EventTap.open(infra) as tap:
            job = await start(tap, repo=REPO)
            final = await tap.until(job, FINAL, timeout=40)
            events = tap.of(job)
            again = await start(tap, repo=REPO)  # a re-run tries the failed one again (and only it)
            rerun = await tap.until(again, FINAL, timeout=40)
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed) == (12, 11, 1)
    failed = [e for e in events if e.type == "item_failed"]
    assert len(failed) == 1
    assert failed[0].detail["item"] == f"{REPO}#{gone}"
    assert failed[0].detail["status"] == 404
    parked = [e for e in events if e.type == "progress" and "waiting" in e.message]
    assert parked
    assert "rate limit on github:octo-alice" in parked[0].message
    assert "1 failed" in final.message
    stored = await query(infra, "SELECT number FROM gh_seeder.fetched_prs ORDER BY number")
    assert [r["number"] for r in stored] == [n for n in numbers if n != gone]
    assert rerun.type == "completed"
    assert (rerun.succeeded, rerun.failed, rerun.skipped) == (0, 1, 11)  # still gone, the rest skipped
