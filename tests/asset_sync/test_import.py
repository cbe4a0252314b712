"""`ferry asset-sync import` and `add`: upsert by slug, a bad row imports nothing and names its line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg

from ferry.db import migrate_database, migrations_in
from tests.cli.conftest import Ferry
from tests.support.infra import Infra


def rows(infra: Infra) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        await migrate_database(infra.database_url, "asset_sync", migrations_in("ferry_asset_sync"))
        conn = await asyncpg.connect(infra.database_url)
        try:
            found = await conn.fetch("SELECT slug, title, lang, asset_type, status, readme_url, owner "
                                     "FROM asset_sync.registry_asset ORDER BY slug")
            return [dict(r) for r in found]
        finally:
            await conn.close()
    return asyncio.run(fetch())


def test_jsonl_then_csv_upsert_by_slug(ferry: Ferry, infra: Infra, tmp_path: Path) -> None:
    first = tmp_path / "assets.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in [
        {"slug": "intro-es", "title": "Intro", "lang": "es", "asset_type": "LESSON", "status": "PUBLISHED",
         "readme_url": "https://github.com/acme/lessons/blob/main/intro/README.es.md"},
        {"slug": "todo-app", "lang": "en", "asset_type": "PROJECT", "owner": "alice",
         "readme_url": "https://github.com/acme/todo/blob/main/README.md"},
    ]) + "\n")
    result = ferry("asset-sync", "import", str(first))
    assert result.exit_code == 0, result.output
    assert "Imported 2 assets" in result.output
    assert "2 new, 0 updated" in result.output
    second = tmp_path / "more.csv"
    second.write_text("slug,title,status\nintro-es,Intro (es),DRAFT\nquiz-1,Quiz,\n")
    result = ferry("asset-sync", "import", str(second))
    assert result.exit_code == 0, result.output
    assert "1 new, 1 updated" in result.output
    got = {r["slug"]: r for r in rows(infra)}
    assert got["intro-es"]["title"] == "Intro (es)"
    assert got["intro-es"]["status"] == "DRAFT"
    assert got["intro-es"]["readme_url"].endswith("README.es.md")  # fields the row does not give are kept
    assert got["todo-app"]["owner"] == "alice"
    assert got["quiz-1"]["status"] == "NOT_STARTED"


def test_a_file_with_bad_rows_imports_nothing_and_names_every_bad_line(ferry: Ferry, infra: Infra,
                                                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"slug": "fine-one", "lang": "en"}) + "\n"
        + json.dumps({"slug": "bad type", "asset_type": "BOOK"}) + "\n"
        + "\n"
        + "{not json\n"
        + json.dumps({"slug": "x", "colour": "red"}) + "\n"
    )
    result = ferry("asset-sync", "import", str(bad))
    assert result.exit_code == 2
    assert "nothing imported: 3 bad row(s)" in result.output
    assert "line 2: slug: 'bad type' is not a slug" in result.output
    assert "line 4: not JSON" in result.output
    assert "line 5: colour: Extra inputs are not permitted" in result.output
    assert rows(infra) == []


def test_add_one_asset_and_update_it(ferry: Ferry, infra: Infra) -> None:
    result = ferry("asset-sync", "add", "--slug", "lesson-a", "--lang", "en",
                   "--readme-url", "https://github.com/acme/lessons/blob/main/a.md")
    assert result.exit_code == 0, result.output
    assert "Added asset lesson-a" in result.output
    assert ferry("asset-sync", "add", "--slug", "lesson-a", "--title", "A").output.strip() == "Updated asset lesson-a"
    [row] = rows(infra)
    assert (row["title"], row["asset_type"], row["lang"]) == ("A", "LESSON", "en")
    bad = ferry("asset-sync", "add", "--slug", "x", "--asset-type", "BOOK")
    assert bad.exit_code == 2
    assert "is not one of PROJECT" in bad.output


def test_the_demo_assets_file_imports(ferry: Ferry, infra: Infra) -> None:
    demo = Path(__file__).resolve().parents[2] / "services" / "asset-sync" / "demo-assets.jsonl"
    result = ferry("asset-sync", "import", str(demo))
    assert result.exit_code == 0, result.output
    assert len(rows(infra)) == len(demo.read_text().splitlines())
