"""The seeder's GitHub source on the shared multi-account client: nothing it fetches is cached."""

from __future__ import annotations

import httpx

from ferry.github import AnyAccount
from ferry_gh_seeder.source import DropLog, GitHubSource
from ferry_sandbox import create_app
from tests.github.conftest import ALICE, BASE, BOB, Sandbox, config, make_limiter


async def test_a_crawl_keeps_nothing_in_the_etag_cache_and_uses_every_account() -> None:
    app = create_app(config())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        box = Sandbox(http, app.state.sandbox)
        client = box.client([ALICE, BOB], make_limiter())
        source = GitHubSource(AnyAccount(client), DropLog())
        page = await source.list_page("posthog/posthog", None)
        assert len(page.items) == 100
        assert page.next_url is not None
        pulls = [await source.pull("posthog/posthog", int(p["number"])) for p in page.items[:5]]
        for data in pulls:
            assert len(data.files) == data.pull["changed_files"]
            assert len(data.commits) == data.pull["commits"]
        assert (len(client.cache), client.cache.size_bytes) == (0, 0)  # each page is fetched once
        assert {r["account"] for r in box.state.log if r["path"] != "user"} == {"octo-alice", "octo-bob"}
