"""pull-and-clean end to end: the seed's selection, the registry's pull and clean, ETags, the summary."""

from __future__ import annotations

import asyncio

from tests.asset_sync.harness import (
    LESSONS_ES,
    OTHERS,
    add_assets,
    api_calls,
    assets_by_slug,
    query,
    run_job,
    sandbox_config,
    stack,
    start,
)
from tests.runtime.harness import EventTap
from tests.support.infra import Infra


async def test_spanish_lessons_are_pulled_and_cleaned_then_skipped_then_forced_through_304s(infra: Infra) -> None:
    async with stack(infra, sandbox_config()) as box, EventTap.open(infra) as tap:
        await add_assets(infra, LESSONS_ES + OTHERS)
        first = await run_job(tap, asset_type="LESSON", lang="es", delay=0, batch_size=2)
        after_first = await assets_by_slug(infra)
        calls_first = len(api_calls(box))
        second = await run_job(tap, asset_type="LESSON", lang="es", delay=0)
        calls_second = len(api_calls(box))
        used_before_force = sum(a["quota_used"] for a in box.stats()["accounts"].values())
        not_modified_before = sum(a["not_modified"] for a in box.stats()["accounts"].values())
        calls_before_force = len(api_calls(box))
        forced = await run_job(tap, asset_type="LESSON", lang="es", delay=0, force=True)
        stats = box.stats()["accounts"]
        after_forced = await assets_by_slug(infra)
    assert first.type == "completed", first.message
    result = first.detail["result"]
    assert {k: result[k] for k in ("found", "pulled", "unchanged", "cleaned", "failed", "skipped")} == {
        "found": 3, "pulled": 3, "unchanged": 0, "cleaned": 3, "failed": 0, "skipped": 0}
    assert (first.total, first.succeeded, first.failed) == (3, 3, 0)
    assert first.message.startswith("Processed 3 assets: 3 pulled, 0 unchanged, 3 cleaned, 0 failed, 0 skipped")
    assert result["report"][0] == "Found 3 assets to process"
    assert result["report"][-1].startswith("Total processing time: ")
    es = after_first["intro-to-python-es"]
    assert (es["sync_status"], es["status_text"], es["cleaning_status"]) == ("OK", "Successfully Synched", "OK")
    assert es["last_synch_at"] is not None
    assert es["last_cleaning_at"] is not None
    assert es["title"] == "Introducción a Python"  # front matter, on the first sync
    assert es["description"] == "Aprende lo básico"
    assert es["technologies"] == ["python", "beginner"]
    assert es["readme_raw"].startswith("---\ntitle:")
    assert "# Introducción a Python" not in es["readme"]
    assert "Notes for the teacher" not in es["readme"]
    assert "https://github.com/4geeks-demo/lessons/blob/main/lessons/intro-to-python/./img/diagram.png?raw=true" in (
        es["readme"])
    assert "![kept](./img/in-code.png)" in es["readme"]  # code untouched
    assert after_first["intro-to-python"]["last_synch_at"] is None  # not selected: English
    assert second.type == "completed"
    assert second.detail["result"]["found"] == 0
    assert second.message == "No assets found to process"
    assert calls_second == calls_first
    assert forced.type == "completed", forced.message
    assert forced.detail["result"]["unchanged"] == 3
    assert forced.detail["result"]["pulled"] == 0
    assert sum(a["quota_used"] for a in stats.values()) == used_before_force  # every README answered 304
    assert sum(a["not_modified"] for a in stats.values()) - not_modified_before == 3
    assert len(api_calls(box)) - calls_before_force == 3  # the branch is not resolved again: one call each
    assert after_forced["intro-to-python-es"]["last_synch_at"] > es["last_synch_at"]


async def test_front_matter_updates_only_on_the_first_sync_or_with_force(infra: Infra) -> None:
    async with stack(infra, sandbox_config()), EventTap.open(infra) as tap:
        await add_assets(infra, LESSONS_ES[:1])
        assert (await run_job(tap, delay=0)).type == "completed"
        await query(infra, "UPDATE asset_sync.registry_asset SET title = 'Edited by hand', "
                           "last_synch_at = now() - interval '2 days'")
        stale = await run_job(tap, delay=0)
        kept = (await assets_by_slug(infra))["intro-to-python-es"]["title"]
        forced = await run_job(tap, delay=0, force=True)
        restored = (await assets_by_slug(infra))["intro-to-python-es"]["title"]
    assert (stale.detail["result"]["found"], stale.detail["result"]["unchanged"]) == (1, 1)
    assert kept == "Edited by hand"  # not the first sync, no --force: the asset's own fields stay
    assert forced.detail["result"]["unchanged"] == 1
    assert restored == "Introducción a Python"  # --force: the front matter overrides


async def test_an_asset_shows_pending_while_it_is_pulled(infra: Infra) -> None:
    async with stack(infra, sandbox_config(latency_ms=700)), EventTap.open(infra) as tap:
        await add_assets(infra, LESSONS_ES[:1])
        job = await start(tap, delay=0)
        seen: set[tuple[str | None, str | None]] = set()
        async with asyncio.timeout(30):
            while ("PENDING", "Starting to sync...") not in seen:
                row = (await assets_by_slug(infra))["intro-to-python-es"]
                seen.add((row["sync_status"], row["status_text"]))
                await asyncio.sleep(0.05)
        final = await tap.until(job, {"completed", "failed"}, timeout=30)
        row = (await assets_by_slug(infra))["intro-to-python-es"]
    assert final.type == "completed"
    assert (row["sync_status"], row["status_text"]) == ("OK", "Successfully Synched")
