"""The sandbox's refs and per-ref contents behave like GitHub's (what asset-sync relies on)."""

from __future__ import annotations

import httpx

from ferry_sandbox import create_app
from tests.asset_sync.harness import ALICE, DANA, sandbox_config

RAW = {"Accept": "application/vnd.github.raw"}


def client(token: str = ALICE) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sandbox_config())),
                             base_url="http://sandbox.test", headers={"Authorization": f"Bearer {token}"})


async def test_matching_refs_list_branches_and_tags_by_prefix() -> None:
    async with client() as gh:
        heads = await gh.get("/repos/4geeks-demo/lessons/git/matching-refs/heads/feature")
        tags = await gh.get("/repos/4geeks-demo/lessons/git/matching-refs/tags/v1")
        none = await gh.get("/repos/4geeks-demo/lessons/git/matching-refs/heads/nope")
        one = await gh.get("/repos/4geeks-demo/lessons/git/ref/heads/main")
        missing = await gh.get("/repos/4geeks-demo/lessons/git/ref/heads/nope")
    assert [r["ref"] for r in heads.json()] == ["refs/heads/feature/new-intro"]
    assert [r["ref"] for r in tags.json()] == ["refs/tags/v1.0"]
    assert (none.status_code, none.json()) == (200, [])
    assert one.json()["object"]["type"] == "commit"
    assert missing.status_code == 404


async def test_contents_per_ref_raw_with_etags_and_errors() -> None:
    path = "/repos/4geeks-demo/lessons/contents/lessons/intro-to-python/README.md"
    async with client() as gh:
        main = await gh.get(path, headers=RAW)
        tagged = await gh.get(path, params={"ref": "v1.0"}, headers=RAW)
        again = await gh.get(path, params={"ref": "v1.0"}, headers={**RAW, "If-None-Match": tagged.headers["etag"]})
        unknown = await gh.get(path, params={"ref": "zzz"}, headers=RAW)
        private = await gh.get("/repos/4geeks-demo/private-course/contents/lessons/secret/README.md", headers=RAW)
    assert main.text.startswith("---\ntitle: \"Intro to Python\"")
    assert "Old." in tagged.text
    assert main.headers["etag"] != tagged.headers["etag"]
    assert again.status_code == 304
    assert again.headers["x-ratelimit-used"] == tagged.headers["x-ratelimit-used"]  # a 304 costs nothing
    assert (unknown.status_code, unknown.json()["message"]) == (404, "No commit found for the ref zzz")
    assert (private.status_code, private.json()["message"]) == (404, "Not Found")
    async with client(DANA) as owner:
        assert (await owner.get("/repos/4geeks-demo/private-course/contents/lessons/secret/README.md",
                                headers=RAW)).status_code == 200
