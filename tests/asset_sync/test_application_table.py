"""FERRY_ASSET_SYNC_TABLE: an application's own assets table, with only the registry's fields, is
worked on in place and never altered; a missing or wrong table is refused by name."""

from __future__ import annotations

import pytest

from ferry.db import connect
from ferry_asset_sync.admin import AssetRow, upsert
from ferry_asset_sync.assets import AssetTable
from ferry_asset_sync.errors import TableNotFound
from tests.asset_sync.harness import LESSONS_ES, query, run_job, sandbox_config, serve_sandbox, service, settings
from tests.gh_seeder.harness import rate_limiter
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

APP_TABLE = """CREATE TABLE public.registry_asset (
    id serial PRIMARY KEY, slug varchar(200) NOT NULL UNIQUE, title varchar(200) NOT NULL DEFAULT '',
    lang varchar(3), asset_type varchar(20) NOT NULL DEFAULT 'PROJECT', status varchar(20) NOT NULL DEFAULT 'DRAFT',
    readme_url varchar(255), readme_raw text, readme text, description text, last_synch_at timestamptz,
    sync_status varchar(20), status_text text, last_cleaning_at timestamptz, cleaning_status varchar(20),
    cleaning_status_details text, owner_id integer)"""


async def test_an_applications_table_is_pulled_and_cleaned_in_place(infra: Infra) -> None:
    await query(infra, APP_TABLE)
    async with serve_sandbox(sandbox_config()) as box, rate_limiter(infra), \
            service(settings(infra, box, asset_sync_table="public.registry_asset")), EventTap.open(infra) as tap:
        conn = await connect(infra.database_url)
        try:
            table = await AssetTable.load(conn, '"public"."registry_asset"', "public.registry_asset")
            await upsert(conn, table, [AssetRow.model_validate(r) for r in LESSONS_ES])
        finally:
            await conn.close()
        final = await run_job(tap, delay=0, lang="es")
        rows = await query(infra, "SELECT slug, title, sync_status, cleaning_status, readme FROM public.registry_asset")
        columns = await query(infra, "SELECT count(*) AS n FROM information_schema.columns "
                                     "WHERE table_schema = 'public' AND table_name = 'registry_asset'")
        own = await query(infra, "SELECT count(*) AS n FROM asset_sync.registry_asset")
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed) == (3, 3, 0)
    assert {(r["sync_status"], r["cleaning_status"]) for r in rows} == {("OK", "OK")}
    assert all((r["readme"] and not r["readme"].startswith("---\ntitle")) or "# " not in r["readme"] for r in rows)
    assert columns[0]["n"] == 17  # not altered: no column added
    assert own[0]["n"] == 0  # ferry's own table untouched


async def test_a_missing_or_wrong_table_is_refused_by_name(infra: Infra) -> None:
    await query(infra, "CREATE TABLE public.not_assets (id serial PRIMARY KEY, slug text)")
    conn = await connect(infra.database_url)
    try:
        with pytest.raises(TableNotFound, match=r"no table public\.nothing"):
            await AssetTable.load(conn, '"public"."nothing"', "public.nothing")
        with pytest.raises(TableNotFound, match=r"table public\.not_assets lacks the asset fields asset_type, "):
            await AssetTable.load(conn, '"public"."not_assets"', "public.not_assets")
    finally:
        await conn.close()
