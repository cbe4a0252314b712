"""The seed's selection: each filter and their combination, staleness with --all and --force, dry runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.db import connect
from ferry_asset_sync.assets import AssetTable
from tests.asset_sync.harness import LESSONS_ES, OTHERS, add_assets, api_calls, query, run_job, sandbox_config, stack
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

NOW = datetime.now(UTC)


async def selected(infra: Infra, **options: object) -> list[str]:
    conn = await connect(infra.database_url)
    try:
        table = await AssetTable.load(conn, '"asset_sync"."registry_asset"', "asset_sync.registry_asset")
        return [slug for _, slug in await table.select(conn, PullAndCleanOptions(**options), NOW)]
    finally:
        await conn.close()


async def test_filters_staleness_and_order(infra: Infra) -> None:
    async with stack(infra, sandbox_config()) as box, EventTap.open(infra) as tap:
        await add_assets(infra, LESSONS_ES + OTHERS)
        # intro-v1 synced an hour ago (fresh), new-intro two days ago (stale), todo-project long ago
        await query(infra, "UPDATE asset_sync.registry_asset SET last_synch_at = $1 WHERE slug = 'intro-v1'",
                    NOW - timedelta(hours=1))
        await query(infra, "UPDATE asset_sync.registry_asset SET last_synch_at = $1 WHERE slug = 'new-intro'",
                    NOW - timedelta(days=2))
        await query(infra, "UPDATE asset_sync.registry_asset SET last_synch_at = $1 WHERE slug = 'todo-project'",
                    NOW - timedelta(days=30))
        everything = await selected(infra)
        assert "no-url" not in everything  # no readme_url: never selected
        assert "intro-v1" not in everything  # synced in the last 24 hours
        # the registry's order: last_synch_at (oldest first, never-synced last), then id
        assert everything[:2] == ["todo-project", "new-intro"]
        assert everything[2:] == ["intro-to-python-es", "what-is-html-es", "css-layouts-es", "intro-to-python",
                                  "html-hello-es"]
        assert "intro-v1" in await selected(infra, all=True)
        assert "intro-v1" in await selected(infra, force=True)
        assert await selected(infra, asset_type="LESSON", all=True) == [
            "new-intro", "intro-v1", "intro-to-python-es", "what-is-html-es", "css-layouts-es", "intro-to-python"]
        assert await selected(infra, lang="es") == ["intro-to-python-es", "what-is-html-es", "css-layouts-es",
                                                    "html-hello-es"]
        assert await selected(infra, status="DRAFT") == ["css-layouts-es"]
        assert await selected(infra, asset_type="LESSON", status="PUBLISHED", lang="es") == [
            "intro-to-python-es", "what-is-html-es"]
        assert await selected(infra, asset_type="QUIZ") == []
        dry = await run_job(tap, lang="es", asset_type="LESSON", dry_run=True)
        calls = api_calls(box)
        rows = await query(infra, "SELECT slug, sync_status, last_synch_at, readme_raw FROM asset_sync.registry_asset")
    assert dry.type == "completed", dry.message
    result = dry.detail["result"]
    assert result["dry_run"] is True
    assert result["found"] == 3
    assert result["assets"] == ["intro-to-python-es", "what-is-html-es", "css-layouts-es"]
    assert result["report"][:2] == ["DRY RUN MODE - no asset will be pulled or cleaned", "Found 3 assets to process"]
    assert dry.message == "DRY RUN MODE - 3 assets would be processed; nothing was changed"
    assert calls == []  # no GitHub quota spent, not even a GET /user
    assert all(r["sync_status"] is None and r["readme_raw"] is None for r in rows)
