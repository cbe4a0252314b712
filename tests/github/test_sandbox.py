"""The sandbox behaves like GitHub where ferry depends on it (checked over plain HTTP)."""

from __future__ import annotations

import base64
import time

from ferry.github.pagination import parse_link
from tests.github.conftest import ALICE2, BAD, Sandbox


async def test_pull_listing_pages_with_link_headers_in_repositories_form(sandbox: Sandbox) -> None:
    first = await sandbox.raw("/repos/posthog/posthog/pulls?state=all&per_page=100")
    links = parse_link(first.headers["link"])
    assert set(links) == {"next", "last"}
    repo_id = (await sandbox.raw("/repos/posthog/posthog")).json()["id"]
    assert links["next"] == f"http://sandbox.test/repositories/{repo_id}/pulls?state=all&per_page=100&page=2"
    middle = await sandbox.raw(links["next"])
    assert set(parse_link(middle.headers["link"])) == {"prev", "next", "last", "first"}
    last = await sandbox.raw(links["last"])
    assert set(parse_link(last.headers["link"])) == {"prev", "first"}
    pulls = first.json() + middle.json() + last.json()
    assert len(pulls) == 250 == len({p["number"] for p in pulls})
    created = [p["created_at"] for p in pulls]
    assert created == sorted(created, reverse=True)  # sort=created, direction=desc by default
    states = {("merged" if p["merged_at"] else p["state"]) for p in pulls}
    assert states == {"open", "closed", "merged"}
    capped = await sandbox.raw("/repos/posthog/posthog/pulls?state=all&per_page=500")
    assert len(capped.json()) == 100  # per_page is at most 100
    assert capped.headers["link"].count("per_page=100") == 2


async def test_state_sort_direction_and_errors(sandbox: Sandbox) -> None:
    open_ones = (await sandbox.raw("/repos/posthog/posthog/pulls?per_page=100")).json()
    assert open_ones
    assert all(p["state"] == "open" for p in open_ones)
    oldest = (await sandbox.raw("/repos/posthog/posthog/pulls?state=closed&sort=updated&per_page=5")).json()
    assert [p["updated_at"] for p in oldest] == sorted(p["updated_at"] for p in oldest)  # asc unless created
    bad = await sandbox.raw("/repos/posthog/posthog/pulls?state=merged")
    assert bad.status_code == 422
    assert bad.json()["message"] == "Validation Failed"
    assert bad.json()["errors"][0]["field"] == "state"
    missing = await sandbox.raw("/repos/posthog/nothing/pulls")
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    refused = await sandbox.raw("/user", token=BAD)
    assert (refused.status_code, refused.json()["message"]) == (401, "Bad credentials")


async def test_pull_detail_counts_match_its_reviews_commits_and_files(sandbox: Sandbox) -> None:
    number = (await sandbox.raw("/repos/posthog/posthog/pulls?state=closed&per_page=1")).json()[0]["number"]
    detail = (await sandbox.raw(f"/repos/posthog/posthog/pulls/{number}")).json()
    commits = (await sandbox.raw(f"/repos/posthog/posthog/pulls/{number}/commits?per_page=100")).json()
    files = (await sandbox.raw(f"/repos/posthog/posthog/pulls/{number}/files?per_page=100")).json()
    reviews = (await sandbox.raw(f"/repos/posthog/posthog/pulls/{number}/reviews")).json()
    assert detail["commits"] == len(commits)
    assert detail["changed_files"] == len(files)
    assert detail["additions"] == sum(f["additions"] for f in files)
    assert {"filename", "status", "additions", "deletions", "changes", "patch"} <= set(files[0])
    assert {"sha", "commit", "author", "parents"} <= set(commits[0])
    assert all({"id", "user", "state", "submitted_at"} <= set(r) for r in reviews)
    again = await sandbox.raw(f"/repos/posthog/posthog/pulls/{number}", token=ALICE2)
    assert again.json() == detail  # deterministic, whichever token asks


async def test_contents_are_base64_wrapped_at_60_or_raw(sandbox: Sandbox) -> None:
    readme = (await sandbox.raw("/repos/posthog/posthog/readme")).json()
    lines = readme["content"].splitlines()
    assert readme["encoding"] == "base64"
    assert all(len(line) == 60 for line in lines[:-1])
    text = base64.b64decode(readme["content"]).decode()
    raw = await sandbox.raw("/repos/posthog/posthog/contents/README.md", Accept="application/vnd.github.raw")
    assert raw.text == text
    assert text.startswith("# posthog")


async def test_etag_revalidation_costs_no_quota(sandbox: Sandbox) -> None:
    first = await sandbox.raw("/repos/posthog/posthog/pulls/1")
    again = await sandbox.raw("/repos/posthog/posthog/pulls/1", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert not again.content
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    stats = await sandbox.stats()
    assert (stats["quota_used"], stats["not_modified"], stats["requests"]) == (1, 1, 2)


async def test_quota_is_per_account_and_exhaustion_answers_403(sandbox: Sandbox) -> None:
    await sandbox.admin("/_sandbox/config", {"accounts": [
        {"login": "octo-alice", "id": 42, "tokens": ["ghp_testAlice00000000000000000000000001", ALICE2], "limit": 2}
    ]})
    await sandbox.raw("/user")
    second = await sandbox.raw("/user", token=ALICE2)  # another token, same account, same quota
    assert second.headers["x-ratelimit-remaining"] == "0"
    refused = await sandbox.raw("/user")
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("API rate limit exceeded for user ID 42.")
    assert refused.headers["x-ratelimit-remaining"] == "0"
    await sandbox.raw("/user")
    stats = await sandbox.stats()
    assert (stats["primary_limited"], stats["after_notice"]) == (2, 1)


async def test_secondary_limits_every_n_and_on_demand(sandbox: Sandbox) -> None:
    await sandbox.admin("/_sandbox/config", {"faults": {"secondary_every": 3, "secondary_pause_s": 30}})
    statuses = [(await sandbox.raw("/user")).status_code for _ in range(4)]
    assert statuses == [200, 200, 403, 403]
    limited = await sandbox.raw("/user")
    assert "secondary rate limit" in limited.json()["message"]
    assert 29 <= int(limited.headers["retry-after"]) <= 30
    await sandbox.admin("/_sandbox/secondary", {"account": "octo-bob", "seconds": 5, "retry_after": False,
                                                "status": 429})
    bob = await sandbox.raw("/user", token="ghp_testBob0000000000000000000000000003")
    assert bob.status_code == 429
    assert "retry-after" not in bob.headers
    stats = await sandbox.admin("/_sandbox/stats")
    assert stats["accounts"]["octo-alice"]["secondary_limited"] == 3
    assert stats["accounts"]["octo-alice"]["after_notice"] == 2
    assert stats["accounts"]["octo-bob"]["secondary_limited"] == 1
    assert "ghp_" not in str(await sandbox.admin("/_sandbox/config"))  # tokens are never echoed


async def test_latency_and_server_errors_can_be_injected(sandbox: Sandbox) -> None:
    await sandbox.admin("/_sandbox/config", {"faults": {"latency_ms": 50, "error_rate": 0.5, "error_status": 503}})
    started = time.monotonic()
    statuses = [(await sandbox.raw("/user")).status_code for _ in range(10)]
    assert time.monotonic() - started >= 10 * 0.05
    assert set(statuses) == {200, 503}
    stats = await sandbox.stats()
    assert stats["injected_errors"] == statuses.count(503)
    assert stats["quota_used"] == statuses.count(200)  # injected errors spend no quota
