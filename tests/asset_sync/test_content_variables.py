"""Content variables end to end: defined in `asset_sync.content_variable`, replaced when a pulled
README is cleaned, the asset's language before none, a missing one reported without failing."""

from __future__ import annotations

import asyncio

from ferry.db import connect
from ferry_asset_sync import variables
from ferry_sandbox import RepoConfig
from tests.asset_sync.harness import GH, add_assets, assets_by_slug, run_job, sandbox_config, stack, with_repos
from tests.cli.conftest import Ferry
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

SERVICE = "asset-sync"
README = ("---\ntitle: Variables\n---\n\n# Variables\n\nBienvenido a {% course %}. Escribe a {% support %}.\n"
          "Mentor: {% mentor %}. Precio: {% price:\"$10\" %}.\n\n```jinja\n{% course %}\n```\n")


async def test_a_readme_is_cleaned_with_the_variables_of_its_language(infra: Infra) -> None:
    repo = RepoConfig(owner="4geeks-demo", name="with-variables", pulls=0,
                      files={"lessons/vars/README.es.md": README})
    asset = {"slug": "vars-es", "lang": "es", "asset_type": "LESSON", "status": "PUBLISHED",
             "readme_url": f"{GH}/with-variables/blob/main/lessons/vars/README.es.md"}
    async with stack(infra, with_repos(sandbox_config(), repo)), EventTap.open(infra) as tap:
        conn = await connect(infra.database_url)
        try:
            await variables.put(conn, "asset_sync", "course", "Ferry 101")                  # every language
            await variables.put(conn, "asset_sync", "course", "Curso Ferry", lang="es")     # Spanish wins
            await variables.put(conn, "asset_sync", "course", "Corso Ferry", lang="it")     # not this asset's
            await variables.put(conn, "asset_sync", "support", None, default_value="ayuda@ferry.invalid")
        finally:
            await conn.close()
        await add_assets(infra, [asset])
        final = await run_job(tap, delay=0)
        messages = [e.message for e in tap.of(final.job_id)]
        row = (await assets_by_slug(infra))["vars-es"]
    assert final.type == "completed", final.message
    assert (final.succeeded, final.failed) == (1, 0)
    assert row["cleaning_status"] == "OK"
    assert row["readme"] == ("---\ntitle: Variables\n---\n\n\n"
                             "Bienvenido a Curso Ferry. Escribe a ayuda@ferry.invalid.\n"
                             "Mentor: {% mentor %}. Precio: \"$10\".\n\n```jinja\n{% course %}\n```\n")
    assert row["readme_raw"] == README  # the pulled text is kept as GitHub has it
    assert any("vars-es: cleaned (content variable mentor is missing and has no default value)" in m
               for m in messages), messages


def _variables(infra: Infra) -> list[tuple[str, str | None, str | None, str | None]]:
    async def fetch() -> list[tuple[str, str | None, str | None, str | None]]:
        conn = await connect(infra.database_url)
        try:
            found = await conn.fetch("SELECT key, value, default_value, lang FROM asset_sync.content_variable "
                                     "ORDER BY key, lang NULLS FIRST")
            return [(r["key"], r["value"], r["default_value"], r["lang"]) for r in found]
        finally:
            await conn.close()
    return asyncio.run(fetch())


def test_set_variable_defines_and_redefines_a_variable_per_language(ferry: Ferry, infra: Infra) -> None:
    assert ferry(SERVICE, "set-variable", "course", "Ferry 101").exit_code == 0
    said = ferry(SERVICE, "set-variable", "course", "Curso Ferry", "--lang", "ES")
    assert said.exit_code == 0, said.output
    assert "Content variable course set for es" in said.output
    assert ferry(SERVICE, "set-variable", "course", "Ferry 102").exit_code == 0  # redefined, not doubled
    assert ferry(SERVICE, "set-variable", "support", "--default", "help@ferry.invalid").exit_code == 0
    assert _variables(infra) == [("course", "Ferry 102", None, None), ("course", "Curso Ferry", None, "es"),
                                 ("support", None, "help@ferry.invalid", None)]


def test_set_variable_refuses_what_a_readme_could_not_use(ferry: Ferry, infra: Infra) -> None:
    for args, says in [
        (["two words", "x"], "'two words' cannot be a content variable's name"),
        (["a:b", "x"], "'a:b' cannot be a content variable's name"),
        (["lonely"], "give content variable lonely a value or a --default"),
        (["course", "x", "--lang", "spanish"], "'spanish' is not a two-letter language code"),
    ]:
        result = ferry(SERVICE, "set-variable", *args)
        assert result.exit_code != 0, args
        assert says in result.output, (args, result.output)
    assert _table_missing(infra)  # refused before the database was touched at all


def _table_missing(infra: Infra) -> bool:
    async def check() -> bool:
        conn = await connect(infra.database_url)
        try:
            return bool(await conn.fetchval("SELECT to_regclass('asset_sync.content_variable') IS NULL"))
        finally:
            await conn.close()
    return asyncio.run(check())
