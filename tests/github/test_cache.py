"""The client's ETag cache is bounded by bytes, and answers fetched once are not kept."""

from __future__ import annotations

from ferry.ratelimit import LocalLimiter
from tests.github.conftest import ALICE, Sandbox

PAGES = [f"/repos/posthog/posthog/pulls?state=all&page={n}" for n in (1, 2, 3)]


def statuses(sandbox: Sandbox, path: str) -> list[int]:
    return [r["status"] for r in sandbox.state.log if r["path"] == path.lstrip("/")]


async def test_the_cache_holds_no_more_bytes_than_its_bound_and_drops_the_oldest(
    sandbox: Sandbox, limiter: LocalLimiter
) -> None:
    roomy = sandbox.client([ALICE], limiter)
    sizes = [len((await roomy.get(page)).content) for page in PAGES]
    bound = sizes[1] + sizes[2] + 4_000  # the last two pages and their keys and headers, not all three
    assert bound < sum(sizes)
    github = sandbox.client([ALICE], limiter, cache_bytes=bound)
    for page in PAGES:
        await github.get(page)
        assert github.cache.size_bytes <= bound
    assert len(github.cache) == 2
    newest, oldest = await github.get(PAGES[2]), await github.get(PAGES[0])
    assert newest.from_cache  # revalidated: GitHub answered 304, free
    assert not oldest.from_cache  # it was dropped to make room, so it was fetched again
    assert github.cache.size_bytes <= bound


async def test_an_answer_larger_than_the_bound_is_not_kept(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter, cache_bytes=1_000)
    await github.get(PAGES[0])
    assert (len(github.cache), github.cache.size_bytes) == (0, 0)
    assert not (await github.get(PAGES[0])).from_cache


async def test_cache_false_neither_keeps_nor_revalidates(sandbox: Sandbox, limiter: LocalLimiter) -> None:
    github = sandbox.client([ALICE], limiter)
    path = "/repos/acme/tiny/pulls/1/files"
    await github.get(path)  # kept
    first, second = await github.get(path, cache=False), await github.get(path, cache=False)
    assert not first.from_cache
    assert not second.from_cache
    assert statuses(sandbox, path) == [200, 200, 200]  # no If-None-Match was sent
    other = "/repos/acme/tiny/pulls/2/files"
    await github.get(other, cache=False)
    assert len(github.cache) == 1  # only the first answer
