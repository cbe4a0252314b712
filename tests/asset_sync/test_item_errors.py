"""Every per-asset error is that asset's, set as the registry sets it, and the job goes on."""

from __future__ import annotations

from tests.asset_sync.harness import GH, add_assets, assets_by_slug, lesson, run_job, sandbox_config, stack
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

BAD = [
    lesson("missing-repo", "main/README.md", "en", readme_url=f"{GH}/nothing-here/blob/main/README.md"),
    lesson("private-no-access", "x", "en", readme_url=f"{GH}/private-course/blob/main/lessons/secret/README.md"),
    lesson("missing-branch", "nope/lessons/intro-to-python/README.md", "en"),
    lesson("no-branch", "x", "en", readme_url=f"{GH}/lessons"),
    lesson("gitlab", "x", "en", readme_url="https://gitlab.com/acme/lessons/-/blob/main/README.md"),
    lesson("missing-file", "main/lessons/nothing/README.md", "en"),
    {**lesson("no-lang", "main/lessons/intro-to-python/README.md", "en"), "lang": None},
    lesson("broken-hide", "main/lessons/broken-hide/README.es.md", "es"),
    {"slug": "no-config", "lang": "en", "asset_type": "EXERCISE", "readme_url": f"{GH}/no-config"},
    {"slug": "no-preview", "lang": "en", "asset_type": "EXERCISE", "readme_url": f"{GH}/no-preview"},
]
GOOD = [
    lesson("ok-lesson", "main/lessons/what-is-html/README.md", "en"),
    lesson("private-with-owner", "x", "en", owner="dana",
           readme_url=f"{GH}/private-course/blob/main/lessons/secret/README.md"),
]
EXPECTED = {
    "missing-repo": "Repository 4geeks-demo/nothing-here not found or not accessible",
    "private-no-access": "Repository 4geeks-demo/private-course not found or not accessible",
    "missing-branch": "Branch not found: https://github.com/4geeks-demo/lessons/blob/nope/lessons/intro-to-python/"
                      "README.md names no branch or tag of repository 4geeks-demo/lessons",
    "no-branch": "Lesson URL must include branch name after blob: https://github.com/4geeks-demo/lessons",
    "gitlab": "Missing or invalid URL on gitlab, it does not belong to github.com",
    "missing-file": "README file 'lessons/nothing/README.md' not found in repository 4geeks-demo/lessons",
    "no-lang": "Language for this asset is not defined, impossible to retrieve readme",
    "no-config": "No configuration file (learn.json, bc.json) found",
    "no-preview": "Missing preview URL in learn.json",
}


async def test_each_bad_asset_gets_its_error_and_the_others_are_synced(infra: Infra) -> None:
    async with stack(infra, sandbox_config()) as box, EventTap.open(infra) as tap:
        await add_assets(infra, BAD + GOOD)
        final = await run_job(tap, delay=0)
        events = tap.of(final.job_id)
        got = await assets_by_slug(infra)
        requests = list(box.state.log)
    assert final.type == "completed", final.message
    result = final.detail["result"]
    assert (result["found"], result["failed"], result["pulled"], result["cleaned"]) == (12, 10, 3, 2)
    assert (final.total, final.failed, final.succeeded) == (12, 10, 2)
    for slug, message in EXPECTED.items():
        assert got[slug]["sync_status"] == "ERROR", slug
        assert got[slug]["status_text"].startswith(message), (slug, got[slug]["status_text"])
        assert got[slug]["last_synch_at"] is None, slug
    broken = got["broken-hide"]
    assert (broken["sync_status"], broken["cleaning_status"]) == ("OK", "ERROR")
    assert broken["cleaning_status_details"] == "Readme with to many <!-- hide -> comments"
    assert broken["readme"] is None
    for slug in ("ok-lesson", "private-with-owner"):
        assert (got[slug]["sync_status"], got[slug]["cleaning_status"]) == ("OK", "OK"), slug
    assert got["private-with-owner"]["title"] == "Secret"
    failed = {e.detail.get("item") for e in events if e.type.value == "item_failed"}
    assert failed == {*EXPECTED, "broken-hide"}
    # the owner's token was used for her asset, and only for it
    assert {r["account"] for r in requests if "private-course" in r["path"] and r["status"] == 200} == {"owner-dana"}


async def test_without_any_token_each_asset_says_which_credentials_are_missing(infra: Infra) -> None:
    async with stack(infra, sandbox_config(), tokens=[]) as box, EventTap.open(infra) as tap:
        await add_assets(infra, [GOOD[0], GOOD[1]])
        final = await run_job(tap, delay=0)
        got = await assets_by_slug(infra)
    assert final.type == "completed", final.message
    assert (final.failed, final.succeeded) == (1, 1)
    assert got["ok-lesson"]["status_text"] == (
        "System does not know what github credentials to use to retrieve asset info for: ok-lesson")
    assert got["private-with-owner"]["sync_status"] == "OK"
    assert box.stats()["accounts"]["octo-alice"]["requests"] == 0
